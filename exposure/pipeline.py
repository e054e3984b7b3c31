"""The one place that knows the order of the stages: Profile -> Rules -> Queries -> Fetch ->
Classify/Extract -> Match -> site verdicts -> ScanResult.

Honesty lives here: a site is `not_found` only when every request it took was answered by the site
itself (results or its own no-results page), no listing is the user and no listing with the user's name
was left unconfirmed. Any request that was blocked, rate limited, timed out, failed or came back
unrecognised (a page that no longer looks like its rule included), any listing page that was not the
person's page, and any cap that cut the reading short makes the site `could_not_check`, unless a listing
of the user was already found.
"""

from __future__ import annotations

import asyncio
import gc
import secrets
import time
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import __version__
from .analyze import Analyzer, DetailReading, ResultsReading, lean, opens_detail
from .browser import BrowserEngine, BrowserSettings, BrowserSite, ChallengeHandler
from .capture import save_capture
from .domains import site_of
from .extract import MAX_LISTINGS
from .fetch import (
    NO_NETWORK,
    OFFLINE_AFTER,
    Fetcher,
    FetchSettings,
    PageSource,
    SiteCookies,
    SiteGate,
    scan_concurrency,
)
from .findings import listing_identity
from .models import (
    ANSWERED,
    ByHand,
    Classification,
    ExposureKind,
    Listing,
    Outcome,
    Page,
    Query,
    QueryRecord,
    ScanResult,
    SitePages,
    SiteResult,
    Status,
    Verdict,
)
from .pagecheck import PageCheck, PageReading, read_page
from .profile import Profile
from .queries import build_queries
from .rules import Rule
from .workers import ANALYSIS_BUDGET, AnalysisPool, DaemonThreadExecutor, default_workers

# When several requests of a site failed, the reason shown is the most telling one.
REASON_ORDER = (
    Outcome.UNCONFIRMED,  # first: it comes with listings the user can open and check
    Outcome.BLOCKED,
    Outcome.RATE_LIMITED,
    Outcome.TIMEOUT,
    Outcome.ERROR,
    Outcome.UNRECOGNIZED,
    Outcome.INTERRUPTED,
    Outcome.SKIPPED,
)


@dataclass(frozen=True)
class ScanOptions:
    """Knobs for one scan; the defaults are polite to real sites."""

    fetch: FetchSettings = field(default_factory=FetchSettings)
    site_deadline: float = 300.0  # one slow site never holds up the rest longer than this
    delay_scale: float = 1.0  # multiplies every rule's delay (tests and the demo use less)
    today: date | None = None
    analysis_workers: int = 0  # 0: one per core
    analysis_budget: float = ANALYSIS_BUDGET  # seconds one page may take to read
    # worker processes (every core) or threads (one core); None: processes for scans of PROCESS_SITES sites or
    # more on a machine with more than one core, where they pay for their start
    analysis_processes: bool | None = None
    browser: BrowserSettings = field(default_factory=BrowserSettings)  # for rules with engine = "browser"


PROCESS_SITES = 20


@dataclass
class _SiteState:
    """What a site's task has learned so far, kept outside the task so an interrupt loses nothing."""

    rule: Rule
    records: list[QueryRecord] = field(default_factory=list)
    verdicts: dict[Hashable, Verdict] = field(default_factory=dict)
    detail_links: set[str] = field(default_factory=set)  # detail pages opened (or being opened)
    # per (detail page, listing): the card it was read with, and the reading (see Scanner._read_detail)
    detail_readings: dict[tuple[str, Hashable], tuple[Listing, asyncio.Future[DetailReading | Classification]]] = field(
        default_factory=dict
    )

    def add(self, verdict: Verdict) -> None:
        """Keep one verdict per listing. A listing with a page of its own is keyed by that URL; one without
        (a table row) by everything it shows, so the same row found by name and by phone counts once. The
        listing remembers every search that found it."""
        key = listing_identity(verdict.listing)
        old = self.verdicts.get(key)
        best = verdict if old is None or _rank(verdict) > _rank(old) else old
        if old is not None:
            found_by = tuple(dict.fromkeys((*old.listing.found_by, *verdict.listing.found_by)))
            if found_by != best.listing.found_by:
                best = replace(best, listing=replace(best.listing, found_by=found_by))
        # only the user's own listings show their page text in the reports; a scan of a thousand sites would
        # otherwise keep every namesake's whole card in memory
        self.verdicts[key] = lean(best)

    def all_verdicts(self) -> tuple[Verdict, ...]:
        return tuple(self.verdicts.values())


def _rank(v: Verdict) -> tuple[bool, bool, bool, bool, float]:
    """Which of two readings of one listing to keep: the one that says most about the user."""
    return (v.is_user, v.identifier_exposed, v.unconfirmed, v.namesake, v.confidence)


def _unread(verdict: Verdict, why: str) -> Verdict:
    """A card whose own page could not be read: it can be confirmed from the card, never ruled out."""
    if verdict.is_user or verdict.identifier_exposed or verdict.ignored:
        return verdict
    reasons = (*verdict.reasons, f"we could not read the whole listing ({why})")
    return replace(
        verdict, unconfirmed=True, namesake=False, reasons=reasons, listing=replace(verdict.listing, unread=why)
    )


def site_verdict(
    state: _SiteState, interrupted: bool = False, extra_reason: tuple[Outcome, str] | None = None, raw: str = ""
) -> SiteResult:
    """The site's status from everything its requests answered."""
    rule = state.rule
    verdicts = state.all_verdicts()
    records = tuple(state.records)
    found = any((v.is_user or v.identifier_exposed) and not v.ignored for v in verdicts)
    failures = [(r.outcome, r.detail) for r in records if r.outcome not in ANSWERED]
    unconfirmed = [v for v in verdicts if v.unconfirmed and not (v.is_user or v.identifier_exposed or v.ignored)]
    if unconfirmed:
        n = len(unconfirmed)
        failures.insert(
            0,
            (
                Outcome.UNCONFIRMED,
                f"{'a listing' if n == 1 else f'{n} listings'} with your name that we could not confirm or rule "
                "out: open it and look",
            ),
        )
    if not records and not extra_reason and not failures:
        failures.append((Outcome.SKIPPED, "your profile has nothing this site can be searched by"))
    if found:
        status, reason, detail = Status.FOUND, None, ""
    elif extra_reason:
        # the site as a whole was cut short (its deadline, or the user stopped the scan)
        status, (reason, detail) = Status.COULD_NOT_CHECK, extra_reason
        answered = len(records) - len(failures)
        detail += f" ({answered} of its requests had been answered)" if records else ""
    elif failures:
        outcome, detail = min(failures, key=lambda f: REASON_ORDER.index(f[0]))
        n = sum(1 for f in failures if f[0] is not Outcome.UNCONFIRMED)
        if n > 1 or (n and outcome is Outcome.UNCONFIRMED):
            detail = f"{detail} ({n} of {len(records) or n} requests could not be checked)"
        status, reason = Status.COULD_NOT_CHECK, outcome
    else:
        status, reason, detail = Status.NOT_FOUND, None, ""
    return SiteResult(
        site=rule.info(),
        status=status,
        reason=reason,
        detail=detail,
        queries=records,
        verdicts=verdicts,
        opt_out=rule.opt_out_info(),
        interrupted=interrupted,
        raw_detail=raw,
    )


class Scanner:
    """Runs one scan with one shared fetcher and one analysis pool."""

    def __init__(
        self,
        profile: Profile,
        options: ScanOptions,
        fetcher: Fetcher,
        analysis: AnalysisPool,
        keep_evidence: bool = False,
        browser: BrowserEngine | None = None,
    ) -> None:
        self.profile = profile
        self.options = options
        self.fetcher = fetcher
        self.analysis = analysis
        self.browser = browser
        self._pages: dict[tuple[str, str], asyncio.Future[Page]] = {}  # no URL is fetched twice in one scan
        self._site_urls: dict[str, list[tuple[str, str]]] = {}  # the keys of _pages, per site
        self._cookies: dict[str, SiteCookies] = {}  # per rule, for the rules that keep cookies
        self.keep_evidence = keep_evidence  # hold on to pages that may show the user's listings (on_pages)
        self._evidence: dict[str, dict[str, Page]] = {}  # per rule: URL -> page, until the site finishes

    def _get(self, url: str, rule: Rule, gate: SiteGate) -> asyncio.Future[Page]:
        key = (rule.site_key, url)
        task = self._pages.get(key)
        if task is None:
            jar = self._cookies.setdefault(rule.id, SiteCookies(rule.domain)) if rule.cookies else None
            task = asyncio.ensure_future(self._source(rule).get(url, rule.domain, gate, jar))
            self._pages[key] = task
            self._site_urls.setdefault(rule.site_key, []).append(key)
        return task

    def _source(self, rule: Rule) -> PageSource:
        """The plain fetcher, or the site's own browser for a rule with engine = "browser"."""
        if rule.engine == "browser" and self.browser is not None:
            return self.browser.for_rule(rule)
        return self.fetcher

    async def _results(self, url: str, rule: Rule, gate: SiteGate, found_by: str) -> tuple[Page, ResultsReading]:
        """A results page, fetched and read once. Its body is let go as soon as it has been read: a scan of a
        thousand sites must not keep every page it saw in memory."""
        page = await asyncio.shield(self._get(url, rule, gate))
        # the sites with the most requests left are read first, as they are fetched first (fetch._Slots)
        reading = await self.analysis.results(page, rule.id, found_by, priority=-gate.left)
        pairs = zip(reading.verdicts, reading.worth_detail, strict=True)
        if any(v.is_user or v.identifier_exposed or worth for v, worth in pairs):
            self._keep(rule, page)  # it may show one of the user's listings: evidence, if the site says so
        if not page.body:
            return page, reading
        # the caller keeps only what the page said about itself (status, final URL) while the listings' own
        # pages are fetched, which can take seconds: its body is not held meanwhile
        return self._let_go((rule.site_key, url), page), reading

    def _let_go(self, key: tuple[str, str], page: Page) -> Page:
        """The page without its body, text and headers, kept in its place so the URL is still not fetched
        twice; what was read from it stays with its reader."""
        light_page = replace(page, body=b"", text="", headers={})
        if key in self._pages:
            light: asyncio.Future[Page] = asyncio.get_running_loop().create_future()
            light.set_result(light_page)
            self._pages[key] = light
        return light_page

    async def site(self, state: _SiteState) -> SiteResult:
        rule = state.rule
        gate = SiteGate(rule.concurrency, rule.delay * self.options.delay_scale)
        try:
            queries = build_queries(self.profile, rule)
            gate.expect(len(queries), _may_reveal(rule))
            async with asyncio.timeout(self.options.site_deadline):
                await asyncio.gather(*(self._query(q, rule, gate, state) for q in queries))
        except TimeoutError:
            self._cancel_pages(rule)
            return site_verdict(
                state,
                extra_reason=(Outcome.TIMEOUT, f"the site did not finish within {self.options.site_deadline:g} s"),
            )
        except Exception as exc:  # a bug met on one site's pages ends that site, never the scan
            self._cancel_pages(rule)
            return site_verdict(
                state, extra_reason=(Outcome.ERROR, _failed_rule(rule, exc)), raw=f"{type(exc).__name__}: {exc}"[:500]
            )
        finally:
            self._forget_pages(rule)
            state.detail_readings.clear()
            if rule.engine == "browser" and self.browser is not None:
                await self.browser.release(rule.id)  # the site's browser context is thrown away
        return site_verdict(state)

    def listing_pages(self, rule: Rule, result: SiteResult) -> SitePages:
        """The pages kept for evidence behind the user's listings on this site: each listing's own page, the
        results page it was found on and the searches that found it, in that order, each once. What was kept
        for listings that turned out not to be the user is let go here."""
        kept = self._evidence.pop(rule.id, {})
        urls: dict[str, None] = {}
        for v in result.user_listings:
            for url in (v.listing.url, v.listing.source_url, *v.listing.found_by):
                urls.setdefault(url, None)
        return SitePages(rule.id, tuple(kept[u] for u in urls if u in kept))

    def _keep(self, rule: Rule, page: Page) -> None:
        """Hold on to a page that may be evidence of a listing of the user until its site finishes (the pages
        themselves are let go as soon as read, so a big scan does not keep them all)."""
        if self.keep_evidence and page.failure is None and page.body:
            self._evidence.setdefault(rule.id, {}).setdefault(page.url, page)

    def _forget_pages(self, rule: Rule) -> None:
        """A finished site's pages (its detail pages, kept while its listings were read) are let go."""
        for key in self._site_urls.get(rule.site_key, ()):
            task = self._pages[key]
            if task.done() and not task.cancelled() and task.exception() is None and task.result().body:
                self._let_go(key, task.result())

    def _cancel_pages(self, rule: Rule) -> None:
        """A site past its deadline stops using the network: its requests still in flight are dropped."""
        for key in self._site_urls.get(rule.site_key, ()):
            task = self._pages[key]
            if not task.done():
                task.cancel()

    async def _query(self, query: Query, rule: Rule, gate: SiteGate, state: _SiteState) -> None:
        url: str | None = query.url
        pages = 0
        max_pages = rule.extract.next_page.max_pages if rule.extract.next_page else 1
        while url is not None and pages < max_pages:
            page, reading = await self._results(url, rule, gate, query.url)
            if pages == 0:
                gate.answered()
            label = query.label if pages == 0 else f"{query.label} (page {pages + 1})"
            detail = reading.classification.detail
            if reading.notes:
                detail += f"; {len(reading.notes)} link(s) that do not parse were ignored"
            detail = _with_refused(detail, page)
            state.records.append(
                QueryRecord(
                    Query(query.site_id, query.kind, url, label),
                    reading.classification.outcome,
                    page.status,
                    detail,
                    page.final_url,
                    reading.classification.raw or page.raw,
                )
            )
            if reading.cut:
                # listings beyond what one page may hold were not read: the user may be among them
                state.records.append(
                    QueryRecord(
                        Query(query.site_id, query.kind, url, f"{label} (listings not read)"),
                        Outcome.SKIPPED,
                        page.status,
                        f"the page had more than {MAX_LISTINGS} listings ({reading.cut} not read): check the rest "
                        "by hand",
                        page.final_url,
                    )
                )
            if not reading.read_listings:
                return
            # a task only for the listings whose own page may be opened: most are strangers, kept at once (a
            # scan of a thousand sites made some 20,000 tasks that never waited for anything)
            visits = []
            for verdict, link, worth in zip(reading.verdicts, reading.detail_links, reading.worth_detail, strict=True):
                if opens_detail(rule, link, worth):
                    visits.append(self._listing(verdict, link, worth, query, rule, gate, state))
                else:
                    state.add(verdict)
            if visits:
                await asyncio.gather(*visits)
            if reading.classification.outcome is not Outcome.RESULTS:
                return  # a page that no longer looks like its rule: its next-page link is not trusted either
            pages += 1
            url = reading.next_page
        if url is not None:
            # more result pages than the rule reads: the user may be on one of them
            state.records.append(
                QueryRecord(
                    Query(query.site_id, query.kind, url, f"{query.label} (page {pages + 1}, not read)"),
                    Outcome.SKIPPED,
                    None,
                    f"more result pages than the {max_pages} this rule reads: check the rest by hand",
                )
            )

    async def _listing(
        self,
        verdict: Verdict,
        link: str | None,
        worth: bool,
        query: Query,
        rule: Rule,
        gate: SiteGate,
        state: _SiteState,
    ) -> None:
        detail = rule.extract.detail
        listing = verdict.listing
        # Only listings that carry one of the user's names are worth a second request: others are strangers.
        unopened = False
        if detail is not None and link and worth:  # opens_detail, with the types narrowed
            first_visit = link not in state.detail_links
            if first_visit and len(state.detail_links) >= detail.max_listings:
                unopened = True
            else:
                state.detail_links.add(link)  # claimed before awaiting: listings run concurrently
                page = await asyncio.shield(self._get(link, rule, gate))
                self._keep(rule, page)
                read = await self._read_detail(page, link, listing, rule, gate, state)
                classification = read.classification if isinstance(read, DetailReading) else read
                if first_visit:
                    names = listing.values.get(ExposureKind.NAME, ())
                    who = names[0].value if names else "a listing"
                    state.records.append(
                        QueryRecord(
                            Query(query.site_id, query.kind, link, f"detail page of {who}"),
                            classification.outcome,
                            page.status,
                            _with_refused(
                                "" if classification.outcome is Outcome.RESULTS else classification.detail, page
                            ),
                            page.final_url,
                            classification.raw or page.raw,
                        )
                    )
                if isinstance(read, DetailReading):
                    verdict = read.verdict
                else:
                    verdict = _unread(verdict, f"its own page: {classification.detail}")
        if unopened and not verdict.is_user:
            # a listing with the user's name whose page we may not open cannot be ruled out
            verdict = _unread(verdict, "its own page was not opened")
            state.records.append(
                QueryRecord(
                    Query(query.site_id, query.kind, link or listing.url, "detail page not opened"),
                    Outcome.SKIPPED,
                    None,
                    f"more listings with your name than the {detail.max_listings if detail else 0} detail pages "
                    "this rule may open: check the rest by hand",
                )
            )
        state.add(verdict)

    async def _read_detail(
        self, page: Page, link: str, listing: Listing, rule: Rule, gate: SiteGate, state: _SiteState
    ) -> DetailReading | Classification:
        """A listing's own page, read with its card. The same card found again by another search (by name with
        and without a place, by phone) links to the same page: it gets the first reading, with its own search
        in it, instead of a second reading of the same page with the same card (a tenth of all the pages a
        500-site benchmark scan read). A card that differs in anything but where it was found is read anew."""
        card = replace(listing, source_url="", found_by=())  # what the reading depends on
        key = (link, listing_identity(listing))
        known = state.detail_readings.get(key)
        if known is not None and known[0] == card:
            read = await known[1]
            if isinstance(read, DetailReading):
                verdict = read.verdict
                found = replace(verdict.listing, source_url=listing.source_url, found_by=listing.found_by)
                read = replace(read, verdict=replace(verdict, listing=found))
            return read
        reading: asyncio.Future[DetailReading | Classification] = asyncio.get_running_loop().create_future()
        state.detail_readings[key] = (card, reading)
        try:
            read = await self.analysis.detail(page, rule.id, listing, priority=-gate.left)
        except BaseException:
            reading.cancel()  # the site is being stopped: whoever waits for this reading stops with it
            raise
        reading.set_result(read)
        return read


def _may_reveal(rule: Rule) -> int:
    """The most requests the answers to a site's searches may lead to that no answer has shown yet: listings'
    own pages (a detail hop) and next result pages. It ranks the site for the scan's request slots while its
    searches are unanswered (fetch.SiteGate.left). Counting only the requests already known, a big scan left
    the sites with few searches and a detail hop for last, and they then had all their listings' pages still to
    fetch: of a 500-site benchmark scan, the sites that finished last were such sites, whose first request had
    waited 3.6-3.8 s. The estimate is generous on purpose: it puts the site ahead only until its searches are
    answered, which is soon once it is ahead."""
    ex = rule.extract
    return (ex.detail.max_listings if ex.detail else 0) + (ex.next_page.max_pages - 1 if ex.next_page else 0)


def _with_refused(detail: str, page: Page) -> str:
    """A request's detail, plus the other hosts its page tried to reach (browser engine; all refused)."""
    hosts = page.refused
    if not hosts:
        return detail
    shown = ", ".join(hosts[:5]) + (f" and {len(hosts) - 5} more" if len(hosts) > 5 else "")
    note = f"the page tried to reach {len(hosts)} other host(s), all blocked: {shown}"
    return f"{detail}; {note}" if detail else note


def _failed_rule(rule: Rule, exc: Exception) -> str:
    """In plain words: the exception's class is for the JSON's raw_detail, not for people."""
    message = " ".join(str(exc).split())[:200]
    return f"rule {rule.id} failed on this site (a bug in exposure or in the rule" + (
        f": {message})" if message else ")"
    )


def new_scan_id(now: datetime | None = None) -> str:
    """A scan's id: its start time (so ids sort by time) and a random suffix (so two scans never collide)."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def _offline(fetcher: Fetcher, finished: int, total: int) -> bool:
    return fetcher.answers == 0 and fetcher.unreachable > 0 and finished >= min(OFFLINE_AFTER, total)


async def scan(
    profile: Profile,
    rules: Sequence[Rule],
    options: ScanOptions | None = None,
    *,
    on_site: Callable[[SiteResult], None] | None = None,
    on_pages: Callable[[SitePages], None] | None = None,
    stop: asyncio.Event | None = None,
    by_hand: Sequence[ByHand] = (),
    scan_id: str | None = None,
    on_challenge: ChallengeHandler | None = None,
) -> ScanResult:
    """Scan every rule's site for the profile. Setting `stop` ends the scan early, keeping what is known.

    As each site finishes, `on_pages` (when given) receives the pages behind its listings of the user, then
    `on_site` its result: a caller that records both in one transaction loses no finished site to a crash.
    `scan_id` names the scan (a resumed scan keeps the id it had). `on_challenge` is told when a check page is
    shown to the person (`BrowserSettings.interactive`)."""
    options = options or ScanOptions()
    async with _few_collections():
        return await _scan(profile, rules, options, on_site, on_pages, stop, by_hand, scan_id, on_challenge)


YOUNG_OBJECTS = 2_000  # new objects between the collector's young passes during a scan
FREEZE_EVERY = 0.5  # seconds between moves of what survived into the generation the collector leaves alone


@asynccontextmanager
async def _few_collections() -> AsyncIterator[None]:
    """The garbage collector, kept to short passes during a scan, which makes millions of short-lived objects
    (every page's reading) beside a heap that only grows (every site's results).

    With the default thresholds the collector's passes over that heap cost a third of the event loop's time at
    1,000 sites; with rare young passes (20,000 new objects) each pass took 10-50 ms, and the older generations'
    200-250, all of it time the loop stood still. So the young passes stay small, and every half second what
    has survived so far is set aside (`gc.freeze`, which costs nothing) so that no pass ever walks the results
    heap. A reference cycle set aside is only collected after the scan, when everything is handed back to the
    collector; a scan makes few (a few thousand objects at 500 sites, sockets and their transports).
    """
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS, old[1], old[2])

    async def set_aside() -> None:
        while True:
            await asyncio.sleep(FREEZE_EVERY)
            gc.freeze()

    freezer = asyncio.create_task(set_aside())
    try:
        yield
    finally:
        freezer.cancel()
        gc.set_threshold(*old)
        gc.unfreeze()


async def _scan(
    profile: Profile,
    rules: Sequence[Rule],
    options: ScanOptions,
    on_site: Callable[[SiteResult], None] | None,
    on_pages: Callable[[SitePages], None] | None,
    stop: asyncio.Event | None,
    by_hand: Sequence[ByHand],
    scan_id: str | None,
    on_challenge: ChallengeHandler | None,
) -> ScanResult:
    started = datetime.now(UTC)
    scan_id = scan_id or new_scan_id(started)
    states = {rule.id: _SiteState(rule) for rule in rules}
    results: dict[str, SiteResult] = {}
    interrupted = False
    offline = False
    t0 = time.monotonic()
    workers = options.analysis_workers or default_workers()
    processes = options.analysis_processes
    if processes is None:
        processes = workers > 1 and len(rules) >= PROCESS_SITES
    analyzer = Analyzer(profile, {r.id: r for r in rules}, options.today, options.fetch.max_body)
    analysis = AnalysisPool(analyzer, workers if processes else min(workers, 2), options.analysis_budget, processes)
    browser = BrowserEngine(options.browser, options.fetch, on_challenge)  # starts Chromium only when needed
    # bodies stay compressed until a worker reads them: decoding is CPU work the event loop need not do
    fetch = replace(
        options.fetch, decode_bodies=False, concurrency=options.fetch.concurrency or scan_concurrency(len(rules))
    )
    async with Fetcher(fetch, ready=analysis.room) as fetcher, browser:
        analysis.start()  # worker processes start while the first requests are out
        scanner = Scanner(profile, options, fetcher, analysis, keep_evidence=on_pages is not None, browser=browser)
        tasks = {asyncio.create_task(scanner.site(states[r.id]), name=r.id): r.id for r in rules}
        stop_task = asyncio.ensure_future(stop.wait()) if stop is not None else None
        pending: set[asyncio.Future[object]] = set(tasks)  # type: ignore[arg-type]
        # finished sites arrive through a queue: waiting on every pending site again after each one finished
        # cost time in the square of the number of sites
        done_sites: asyncio.Queue[asyncio.Future[object]] = asyncio.Queue()
        for task in pending:
            task.add_done_callback(done_sites.put_nowait)
        try:
            while pending:
                got = asyncio.ensure_future(done_sites.get())
                waiting: set[asyncio.Future[Any]] = {got, *([stop_task] if stop_task else [])}
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if stop_task is not None and stop_task.done():
                    got.cancel()
                    interrupted = True
                    break
                done = [got.result()]
                while not done_sites.empty():
                    done.append(done_sites.get_nowait())
                for task in done:
                    pending.discard(task)
                    site_id = tasks[task]  # type: ignore[index]
                    result = task.result()
                    assert isinstance(result, SiteResult)
                    results[site_id] = result
                    kept = scanner.listing_pages(states[site_id].rule, result)
                    if on_pages and result.user_listings:
                        on_pages(kept)
                    if on_site:
                        on_site(result)
                if pending and _offline(fetcher, len(results), len(rules)):
                    # the first sites' addresses could not be found and nothing answered: there is no network,
                    # and waiting for every other site to fail the same way tells the user nothing new
                    offline = True
                    break
        finally:
            if stop_task is not None:
                stop_task.cancel()
            for task in pending:
                task.cancel()
            for page_task in scanner._pages.values():
                page_task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2)
            analysis.close()
    for rule in rules:
        if rule.id not in results:
            if offline:
                results[rule.id] = site_verdict(states[rule.id], extra_reason=(Outcome.ERROR, NO_NETWORK))
            else:
                results[rule.id] = site_verdict(
                    states[rule.id], interrupted=True, extra_reason=(Outcome.INTERRUPTED, "the scan was stopped")
                )
    finished = datetime.now(UTC)
    return ScanResult(
        id=scan_id,
        started_at=started.isoformat(timespec="seconds"),
        finished_at=finished.isoformat(timespec="seconds"),
        sites=tuple(results[r.id] for r in rules),
        interrupted=interrupted,
        profile_label=profile.name.original,
        tool_version=__version__,
        extra={
            "requests": str(fetcher.requests_sent),
            "seconds": f"{time.monotonic() - t0:.2f}",
            "max_requests_per_site": str(options.fetch.max_requests_per_site),
            "concurrency": str(fetch.concurrency),
            **(
                {"browser_pages": str(browser.pages_loaded), "browser_blocked": str(sum(browser.refused.values()))}
                if browser.pages_loaded
                else {}
            ),
        },
        by_hand=tuple(by_hand),
        profile_states=profile.states,
    )


async def check_page(
    url: str,
    profile: Profile,
    *,
    fetch: FetchSettings | None = None,
    browser: BrowserSettings | None = None,
    allow_hosts: Sequence[str] = (),
    save_to: Path | None = None,
    on_challenge: ChallengeHandler | None = None,
    today: date | None = None,
) -> PageCheck:
    """`exposure check URL`: one page no rule knows, loaded in the browser engine (pinned to the URL's own site
    and `allow_hosts`), read for the user's identifiers, and kept as evidence in `save_to` when it could be read."""
    host = urlsplit(url).hostname or url
    site = BrowserSite("check", host, site_of(url), tuple(allow_hosts))
    async with BrowserEngine(browser, fetch, on_challenge) as engine:
        page = await engine.site(site).get(url, site.domain)
    executor = DaemonThreadExecutor(1)  # a page that takes too long to read must not hold the process open
    try:
        future = asyncio.get_running_loop().run_in_executor(executor, read_page, page, profile, today)
        reading = await asyncio.wait_for(future, ANALYSIS_BUDGET)
    except TimeoutError:
        reading = PageReading(url, None, Outcome.ERROR, f"reading the page took longer than {ANALYSIS_BUDGET:g} s")
    finally:
        executor.shutdown(wait=False)
    if save_to is None or reading.verdict is None:
        return PageCheck(reading, page)  # a page that could not be read is no evidence of anything
    capture, saved, _record = save_capture(page, save_to, "browser")
    return PageCheck(reading, page, capture, saved)
