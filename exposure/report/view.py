"""What the human-readable reports show, decided once for HTML and Markdown.

A `ScanResult` is the record of what happened; a `ReportView` is what a frightened reader needs
from it, in the order they need it: how bad is it, what to do first, then the details. HTML and
Markdown render the same view so the two never disagree, and the headline numbers are taken from
`json_report.summary` so no format disagrees with the JSON either.

Everything here is plain data: strings are still raw (escaping is each renderer's job), except
URLs, which pass through `safe_url` so a renderer can only ever turn an http(s) URL into a link.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from ..models import ByHand, ExposureKind, Outcome, ScanResult, SiteInfo, SiteResult, Status, Verdict
from ..summary import california_drop, exposed_kinds
from .json_report import summary as json_summary

# The five kinds the summary always names, even when none are out: "not seen" is news too.
HEADLINE_KINDS: tuple[ExposureKind, ...] = (
    ExposureKind.ADDRESS,
    ExposureKind.PHONE,
    ExposureKind.EMAIL,
    ExposureKind.RELATIVE,
    ExposureKind.AGE,
)
# Most dangerous first: a home address lets someone turn up at the door.
KIND_ORDER: tuple[ExposureKind, ...] = (
    *HEADLINE_KINDS,
    ExposureKind.LOCATION,
    ExposureKind.NAME,
    ExposureKind.ALIAS,
)
KIND_LABEL: dict[ExposureKind, str] = {
    ExposureKind.ADDRESS: "Home address",
    ExposureKind.PHONE: "Phone numbers",
    ExposureKind.EMAIL: "Email addresses",
    ExposureKind.RELATIVE: "Relatives",
    ExposureKind.AGE: "Age",
    ExposureKind.LOCATION: "Town or city",
    ExposureKind.NAME: "Name",
    ExposureKind.ALIAS: "Other names",
}
# One value's kind, as a row label on a card.
KIND_SINGULAR: dict[ExposureKind, str] = {
    ExposureKind.ADDRESS: "Address",
    ExposureKind.PHONE: "Phone",
    ExposureKind.EMAIL: "Email",
    ExposureKind.RELATIVE: "Relative",
    ExposureKind.AGE: "Age",
    ExposureKind.LOCATION: "Town or city",
    ExposureKind.NAME: "Name",
    ExposureKind.ALIAS: "Other name",
}

# Why a site could not be checked, in words for someone who has never heard of HTTP.
_REASON_WORDS: dict[Outcome, str] = {
    Outcome.BLOCKED: "The site blocked our automatic check",
    Outcome.RATE_LIMITED: "The site asked us to slow down (rate limited)",
    Outcome.TIMEOUT: "The site took too long to answer (timed out)",
    Outcome.ERROR: "We could not reach the site",
    Outcome.UNRECOGNIZED: "We did not recognise the site's page; the site may have changed",
    Outcome.INTERRUPTED: "The scan was stopped before this site was checked",
    Outcome.SKIPPED: "Not fully checked",
    Outcome.UNCONFIRMED: "It shows a listing with your name that we could neither confirm nor rule out",
}

_NUMBERED = re.compile(r"^\d{1,2}[.)]\s+")
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f-\x9f\\]")
_HOST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?$")
_IPV6 = re.compile(r"^\[[0-9a-f:.]+\]$")
# Characters that may stay as they are in each URL part; everything else is percent-encoded. '%' is
# kept so existing escapes survive; quotes and angle brackets are not, so a rebuilt URL never carries them.
_PATH_SAFE = "/:@!$&()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"


def safe_url(raw: str) -> str | None:
    """The URL rebuilt from its parsed parts if it is a plain http(s) URL, else None (show it as text).

    Why so strict: the URL came from a page we do not control. Browsers drop tabs and newlines
    inside URLs (`java\\tscript:` runs), treat a backslash as a slash in http URLs (so `https://a\\@b`
    goes to host `a` while a parser may see user `a\\` at host `b`), and will open `data:` and
    `javascript:` links. Any control character, whitespace or backslash, user-info, a malformed
    port or an odd host means no link at all; the rest is re-serialised from urllib's parts so
    what the browser follows is exactly what we checked.
    """
    if not raw or len(raw) > 4096 or _CONTROL_OR_SPACE.search(raw):
        return None
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return None
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        return None
    host = (parts.hostname or "").lower()
    if not host:
        return None
    if _IPV6.match(f"[{host}]") and ":" in host:
        host = f"[{host}]"
    else:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
        if not _HOST.match(host):
            return None
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit(
        (
            scheme,
            netloc,
            quote(parts.path, safe=_PATH_SAFE) or "/",
            quote(parts.query, safe=_QUERY_SAFE),
            quote(parts.fragment, safe=_QUERY_SAFE),
        )
    )


@dataclass(frozen=True)
class Link:
    """A URL to show: `href` is set only when `safe_url` accepted it; `text` is always the original."""

    href: str | None
    text: str

    @classmethod
    def of(cls, raw: str) -> Link:
        return cls(safe_url(raw), raw)


@dataclass(frozen=True)
class SiteRef:
    """A site named in prose, pointing at its card when the report has one."""

    name: str
    anchor: str | None = None


@dataclass(frozen=True)
class ValueRow:
    kind: ExposureKind
    label: str
    value: str
    yours: bool
    partial: bool
    evidence: str
    profile_index: int | None = None  # for an address: which of the profile's it is (0: the current one)


@dataclass(frozen=True)
class ListingView:
    """One listing as the reader checks it: what it shows, where, and why we think it is them."""

    link: Link
    values: tuple[ValueRow, ...]
    reasons: tuple[str, ...]
    evidence: tuple[str, ...]  # distinct evidence snippets, in value order
    text: str  # the listing's visible text, for the record
    sureness: str  # "very likely you", ...
    confidence: float
    under_other_name: bool  # identifier_exposed without being the user: a phone/email/address of theirs


@dataclass(frozen=True)
class OptOutView:
    link: Link
    method: str
    requires: tuple[str, ...]
    steps: str
    days: int | None
    covers: tuple[SiteRef, ...]

    @property
    def step_list(self) -> tuple[str, ...]:
        """The steps one per line, as the rule wrote them (a rule's `steps` is free text), without the
        rule's own numbers: every report numbers the steps itself, and "1. 1. Find..." reads as a bug. A
        numbered step may be wrapped over several lines; those are one step."""
        lines = [line.strip() for line in self.steps.splitlines() if line.strip()]
        if not lines or not _NUMBERED.match(lines[0]):
            return tuple(lines)
        steps: list[str] = []
        for line in lines:  # a numbered step may go on over the next lines, which carry no number
            if _NUMBERED.match(line):
                steps.append(_NUMBERED.sub("", line, count=1))
            else:
                steps[-1] += " " + line
        return tuple(steps)

    @property
    def duration(self) -> str:
        if self.days is None:
            return "How long it takes is not known"
        if self.days == 0:
            return "Usually takes effect the same day"
        return f"Usually takes about {self.days} day{'s' if self.days != 1 else ''}"


@dataclass(frozen=True)
class Action:
    """One removal request, which may take the user off several sites at once.

    `key` is the site id the checklist tick is stored under (with the scan id), so a tick follows
    the site, not the position in the list.
    """

    key: str
    site: SiteRef
    opt_out: OptOutView | None
    removes: tuple[SiteRef, ...]  # the sites where the user is listed that this one request covers
    also_covers: tuple[SiteRef, ...]  # covered sites where the user was not found (or not checked)
    shows: tuple[str, ...]  # the headline kinds it publishes, in words, most dangerous first
    has_address: bool
    value_count: int


@dataclass(frozen=True)
class SiteCard:
    result: SiteResult
    anchor: str
    listings: tuple[ListingView, ...]
    opt_out: OptOutView | None
    action: Action
    kinds: tuple[ExposureKind, ...]
    parent: str
    sisters: tuple[SiteRef, ...]

    @property
    def covered(self) -> bool:
        """Another site's request removes this one too: that request is this card's next step."""
        return bool(self.action.key) and self.action.key != self.result.site.id

    @property
    def next_opt_out(self) -> OptOutView | None:
        """The opt-out to send for this card: the covering site's when another request removes it."""
        return self.action.opt_out if self.covered else self.opt_out


@dataclass(frozen=True)
class KindLine:
    kind: ExposureKind
    label: str
    count: int  # sites, as in json_report.summary()["exposed_kinds"]
    sites: tuple[SiteRef, ...]
    clear: bool = False  # not seen, and every site was checked: only then may the report say "not out"
    which: str = ""  # for addresses: which of the profile's are out ("your current address, 412 N Walnut St")


@dataclass(frozen=True)
class Unchecked:
    result: SiteResult
    reason: str
    search_by_hand: Link | None


@dataclass(frozen=True)
class Namesake:
    site: SiteResult
    listing: ListingView


@dataclass(frozen=True)
class ByHandView:
    """A site that can only be checked by hand: where to search, why, and how to get removed."""

    site: SiteInfo
    search: Link | None
    why: str
    opt_out: OptOutView | None


@dataclass(frozen=True)
class DropNote:
    """California's one-request deletion platform, for a person with a California address."""

    link: Link
    registered: tuple[SiteRef, ...]  # sites listing the user that DROP reaches (registered brokers)
    unregistered: tuple[SiteRef, ...]  # sites listing the user that it does not reach: their own opt-outs
    registered_in_scan: int


@dataclass(frozen=True)
class NotListed:
    result: SiteResult
    searched: tuple[str, ...]  # query kinds, never values: "name", "phone"


@dataclass(frozen=True)
class ReportView:
    scan: ScanResult
    summary: dict[str, Any]
    started: str
    finished: str
    kinds: tuple[KindLine, ...]  # headline kinds always, others when out
    actions: tuple[Action, ...]  # most urgent first: the removal checklist
    cards: tuple[SiteCard, ...]
    unchecked: tuple[Unchecked, ...]
    namesakes: tuple[Namesake, ...]
    not_listed: tuple[NotListed, ...]
    unconfirmed: tuple[Namesake, ...] = ()  # listings with the user's name we could not tell: check them yourself
    by_hand: tuple[ByHandView, ...] = ()
    headline: str = ""
    outcome: str = ""
    drop: DropNote | None = None

    @property
    def changes(self) -> str:
        """Since the previous scan, in one sentence; "" for a first scan or when history is off."""
        c = self.scan.changes
        if c is None:
            return ""
        parts = [
            f"{len(c.new)} new {'listing' if len(c.new) == 1 else 'listings'}",
            f"{len(c.still_listed)} still there",
            f"{len(c.gone)} gone (an opt-out may have worked)",
        ]
        if c.unknown:
            parts.append(f"{len(c.unknown)} on sites we could not check this time")
        return f"Since your scan of {when(c.previous_finished_at)}: " + ", ".join(parts) + "."

    @property
    def gone(self) -> tuple[tuple[str, str], ...]:
        """(site name, listing URL) of each listing that was there last time and is not now."""
        c = self.scan.changes
        if c is None:
            return ()
        return tuple((c.gone_details[f].site_name, c.gone_details[f].url) for f in c.gone if f in c.gone_details)

    @property
    def removals(self) -> tuple[tuple[str, str], ...]:
        """(site, where its removal request stands) for each request the user recorded."""
        return tuple(
            (r.site_name if r.site_name == r.requested_from else f"{r.site_name} (through {r.requested_from})", r.text)
            for r in self.scan.removals
        )

    @property
    def first_actions(self) -> tuple[Action, ...]:
        """What the ten-second summary tells the reader to do first."""
        return self.actions[:3]


def when(iso: str) -> str:
    """An ISO timestamp as a person writes it ("21 November 2026, 10:47 UTC"); the raw text if unparsable."""
    try:
        dt = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return iso
    zone = dt.tzname() or ""
    if zone in ("UTC", "UTC+00:00"):
        zone = "UTC"
    return f"{dt.day} {dt:%B %Y, %H:%M}{' ' + zone if zone else ''}"


def reason_text(result: SiteResult) -> str:
    """Why a site could not be checked, in plain words, with the detail we have."""
    if result.reason is None or (result.interrupted and result.reason not in _REASON_WORDS):
        base = "The scan was stopped before this site was checked" if result.interrupted else "Not checked"
    else:
        base = _REASON_WORDS.get(result.reason, "We could not check this site")
    detail = " ".join(result.detail.split())
    if detail and result.reason is Outcome.BLOCKED and not detail.lower().startswith("blocked"):
        return f"{base}: blocked by {detail}."  # the classifier names the blocker ("Cloudflare challenge")
    return f"{base}: {detail}." if detail else f"{base}."


def _sureness(v: Verdict) -> str:
    if v.identifier_exposed and not v.is_user:
        return "shows your details under another name"
    if v.confidence >= 0.85:
        return "very likely you"
    if v.confidence >= 0.6:
        return "likely you"
    return "possibly you"


def _kind_rank(kind: ExposureKind) -> int:
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


def listing_view(v: Verdict, namesake: bool = False) -> ListingView:
    """A listing as the report shows it. On a namesake's listing the name is not marked "yours": the name
    is the one thing the reader shares with that person, and a badge there would say the opposite."""
    rows = sorted(
        (
            ValueRow(
                e.kind,
                KIND_SINGULAR.get(e.kind, str(e.kind)),
                e.value,
                e.matches_profile and not (namesake and e.kind in (ExposureKind.NAME, ExposureKind.ALIAS)),
                e.partial,
                e.evidence,
                e.profile_index,
            )
            for e in v.exposed
        ),
        key=lambda r: (_kind_rank(r.kind), not r.yours),
    )
    evidence: list[str] = []
    for r in rows:
        snippet = " ".join(r.evidence.split())
        # A snippet that is just the value again proves nothing more; keep the ones with context.
        if snippet and snippet != " ".join(r.value.split()) and snippet not in evidence:
            evidence.append(snippet)
    return ListingView(
        link=Link.of(v.listing.url),
        values=tuple(rows),
        reasons=v.reasons,
        evidence=tuple(evidence),
        text=v.listing.text.strip(),
        sureness=_sureness(v),
        confidence=v.confidence,
        under_other_name=v.identifier_exposed and not v.is_user,
    )


def _exposed_kinds(result: SiteResult) -> set[ExposureKind]:
    """The same rule as `json_report.summary`, so the per-kind site lists match its counts."""
    return exposed_kinds(result)


def _norm(text: str) -> str:
    text = text.strip().lower()
    for prefix in ("https://", "http://"):
        text = text.removeprefix(prefix)
    return text.removeprefix("www.").rstrip("/")


def _opt_out_key(url: str) -> str:
    """Two sites share an opt-out when their opt-out pages are the same page (scheme, www and case aside)."""
    parts = urlsplit(url.strip())
    return _norm(f"{parts.netloc}{parts.path}")


_SLUG_OK = set(string.ascii_lowercase + string.digits + "-_")


def _anchor(i: int, site: SiteInfo) -> str:
    slug = "".join(c if c in _SLUG_OK else "-" for c in site.id.lower())[:40]
    return f"site-{i}-{slug}"


class _Sites:
    """Looks up a site named by id, domain or name (rules write `covers` and `sister_sites` either way)."""

    def __init__(self, results: Iterable[SiteResult], anchors: dict[str, str]) -> None:
        self.by_key: dict[str, SiteResult] = {}
        self.anchors = anchors
        for r in results:
            for key in (r.site.id, r.site.domain, r.site.name):
                if key:
                    self.by_key.setdefault(_norm(key), r)

    def find(self, name: str) -> SiteResult | None:
        return self.by_key.get(_norm(name))

    def ref(self, name: str) -> SiteRef:
        r = self.find(name)
        if r is None:
            return SiteRef(name.strip())
        return SiteRef(r.site.name or r.site.id, self.anchors.get(r.site.id))


def _opt_out_view(result: SiteResult, sites: _Sites) -> OptOutView | None:
    o = result.opt_out
    if o is None:
        return None
    covers = tuple(sites.ref(c) for c in o.covers if c.strip() and sites.find(c) is not result)
    return OptOutView(Link.of(o.url), o.method, o.requires, o.steps.strip(), o.days, covers)


def _actions(found: list[SiteResult], cards: dict[str, SiteCard], sites: _Sites) -> list[Action]:
    """Group found sites by the one request that removes them, most urgent group first.

    Two found sites are one action when they share an opt-out page, or when one's opt-out says it
    covers the other. Urgency: a published home address first, then how many sites one request
    clears, then how many of the user's values it takes down.
    """
    group = {r.site.id: r.site.id for r in found}

    def root(x: str) -> str:
        while group[x] != x:
            group[x] = group[group[x]]
            x = group[x]
        return x

    def join(a: str, b: str) -> None:
        ra, rb = root(a), root(b)
        if ra != rb:
            group[rb] = ra

    by_url: dict[str, str] = {}
    for r in found:
        if r.opt_out is None or not r.opt_out.url.strip():
            continue
        key = _opt_out_key(r.opt_out.url)
        if key in by_url:
            join(by_url[key], r.site.id)
        else:
            by_url[key] = r.site.id
        for name in r.opt_out.covers:
            other = sites.find(name)
            if other is not None and other.site.id in group:
                join(r.site.id, other.site.id)

    members: dict[str, list[SiteResult]] = {}
    for r in found:
        members.setdefault(root(r.site.id), []).append(r)

    actions: list[Action] = []
    for rs in members.values():
        # The site to write to: the one whose opt-out covers the most of the group, else the worst exposure.
        lead = min(
            rs,
            key=lambda r, rs=rs: (  # type: ignore[misc]
                r.opt_out is None,
                -sum(1 for n in (r.opt_out.covers if r.opt_out else ()) if sites.find(n) in rs),
                ExposureKind.ADDRESS not in _exposed_kinds(r),
                found.index(r),
            ),
        )
        card = cards[lead.site.id]
        removes = tuple(SiteRef(r.site.name or r.site.id, cards[r.site.id].anchor) for r in rs)
        opt = card.opt_out
        also = tuple(c for c in (opt.covers if opt else ()) if c.name not in {x.name for x in removes})
        has_address = any(ExposureKind.ADDRESS in _exposed_kinds(r) for r in rs)
        values = {(row.kind, row.value) for r in rs for lv in cards[r.site.id].listings for row in lv.values}
        kinds = {k for r in rs for k in _exposed_kinds(r)}
        shows = tuple(KIND_LABEL[k].lower() for k in HEADLINE_KINDS if k in kinds)
        actions.append(
            Action(
                key=lead.site.id,
                site=SiteRef(lead.site.name or lead.site.id, card.anchor),
                opt_out=opt,
                removes=removes,
                also_covers=also,
                shows=shows,
                has_address=has_address,
                value_count=len(values),
            )
        )
    actions.sort(key=lambda a: (not a.has_address, a.opt_out is None, -len(a.removes), -a.value_count))
    return actions


def and_list(words: Iterable[str]) -> str:
    """Words joined as a person writes a list: "a, b and c"."""
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def build(scan: ScanResult) -> ReportView:
    """Decide what the report says, in the order it says it."""
    numbers = json_summary(scan)
    found = [r for r in scan.sites if r.status is Status.FOUND]
    anchors = {r.site.id: _anchor(i, r.site) for i, r in enumerate(found)}
    sites = _Sites(scan.sites, anchors)

    cards: dict[str, SiteCard] = {}
    placeholder = Action("", SiteRef(""), None, (), (), (), False, 0)
    for r in found:
        cards[r.site.id] = SiteCard(
            result=r,
            anchor=anchors[r.site.id],
            listings=tuple(listing_view(v) for v in r.user_listings),
            opt_out=_opt_out_view(r, sites),
            action=placeholder,
            kinds=tuple(sorted(_exposed_kinds(r), key=_kind_rank)),
            parent=r.site.parent.strip(),
            sisters=tuple(sites.ref(s) for s in r.site.sister_sites if s.strip()),
        )
    actions = _actions(found, cards, sites)
    action_of = {ref.anchor: a for a in actions for ref in a.removes}
    cards = {sid: replace(card, action=action_of[card.anchor]) for sid, card in cards.items()}
    # Cards in the order of the checklist, so the page reads top to bottom in the order of work.
    order = {ref.anchor: i for i, a in enumerate(actions) for ref in a.removes}
    ordered_cards = tuple(sorted(cards.values(), key=lambda c: order.get(c.anchor, len(order))))

    kinds: list[KindLine] = []
    exposed = numbers["exposed_kinds"]
    for kind in KIND_ORDER:
        count = int(exposed.get(kind.value, 0))
        if kind not in HEADLINE_KINDS and not count:
            continue
        refs = tuple(
            SiteRef(c.result.site.name or c.result.site.id, c.anchor) for c in ordered_cards if kind in c.kinds
        )
        which = _which_addresses(ordered_cards) if kind is ExposureKind.ADDRESS and count else ""
        kinds.append(
            KindLine(kind, KIND_LABEL[kind], count, refs, clear=not count and bool(numbers["all_checked"]), which=which)
        )

    unchecked = tuple(
        Unchecked(r, reason_text(r), _search_by_hand(r)) for r in scan.sites if r.status is Status.COULD_NOT_CHECK
    )
    namesakes = tuple(Namesake(r, listing_view(v, namesake=True)) for r in scan.sites for v in r.namesakes)
    unconfirmed = tuple(Namesake(r, listing_view(v)) for r in scan.sites for v in r.unconfirmed)
    by_hand = tuple(_by_hand_view(b, sites) for b in scan.by_hand)
    not_listed = tuple(
        NotListed(r, tuple(dict.fromkeys(q.query.kind.value for q in r.queries)))
        for r in scan.sites
        if r.status is Status.NOT_FOUND
    )
    return ReportView(
        scan=scan,
        summary=numbers,
        started=when(scan.started_at),
        finished=when(scan.finished_at),
        kinds=tuple(kinds),
        actions=tuple(actions),
        cards=ordered_cards,
        unchecked=unchecked,
        namesakes=namesakes,
        not_listed=not_listed,
        unconfirmed=unconfirmed,
        by_hand=by_hand,
        headline=str(numbers["headline"]),
        outcome=str(numbers["outcome"]),
        drop=_drop_note(scan, sites),
    )


def _drop_note(scan: ScanResult, sites: _Sites) -> DropNote | None:
    facts = california_drop(scan)
    if facts is None:
        return None
    return DropNote(
        Link.of(facts["url"]),
        tuple(sites.ref(i) for i in facts["registered_listing_you"]),
        tuple(sites.ref(i) for i in facts["not_registered_listing_you"]),
        int(facts["registered_in_scan"]),
    )


def _which_addresses(cards: Iterable[SiteCard]) -> str:
    """Which of the profile's addresses the listings show: "your current address, 412 N Walnut St Apt 3, and
    1 past address". The street is as a listing shows it; the report never sees the profile itself."""
    streets: dict[int, str] = {}
    for c in cards:
        for lv in c.listings:
            for row in lv.values:
                if row.kind is ExposureKind.ADDRESS and row.yours and row.profile_index is not None:
                    streets.setdefault(row.profile_index, row.value.split(",")[0].strip())
    if not streets:
        return ""
    past = sorted(i for i in streets if i != 0)
    n = len(past)
    several = f"{n} past {'address' if n == 1 else 'addresses'}"
    if 0 in streets:
        return f"your current address, {streets[0]}" + (f", and {several}" if n else "")
    return (f"{several}, {streets[past[0]]}" if n == 1 else several) + " (not your current one)"


def _by_hand_view(b: ByHand, sites: _Sites) -> ByHandView:
    o = b.opt_out
    opt = None
    if o is not None:
        covers = tuple(sites.ref(c) for c in o.covers if c.strip())
        opt = OptOutView(Link.of(o.url), o.method, o.requires, o.steps.strip(), o.days, covers)
    search = Link.of(b.site.manual_url) if b.site.manual_url and safe_url(b.site.manual_url) else None
    return ByHandView(b.site, search, b.why, opt)


def _search_by_hand(r: SiteResult) -> Link | None:
    """Where a person can look themselves: the rule's manual page, else the first search we tried."""
    for raw in (r.site.manual_url, *(q.query.url for q in r.queries)):
        if raw and safe_url(raw):
            return Link.of(raw)
    return None
