"""Polite, bounded, hostile-input-proof HTTP.

Nothing here trusts the server. Bodies are read raw and decoded by our own code in bounded steps, so a
gzip, deflate or brotli bomb is cut off at the size cap with memory far below it (httpx 0.28 would
inflate a 421-byte brotli body to 256 MiB in one chunk). Redirects are followed hop by hop here, each
hop checked against the rule's site before it is requested. Every request has one total deadline that
covers connecting, redirects and the whole body, so a server trickling a byte a second ends there.
A failure is returned as a `Page` with `failure` set: a site failing is a status, never an exception.

The client is aiohttp, called directly. It was httpx over the aiohttp transport (httpx-aiohttp): on this
project's 2-core machines httpx's own transport spent 8.4 ms of CPU per request at 50 concurrent requests,
the aiohttp one 0.7 ms; and httpx's request and response objects around that transport (URL parsing and
validation, header normalisation, the stream wrappers) still doubled the client's cost per request on the
scan's event loop (0.63 against 0.28 ms, issue 12), which is the one core the whole network side of a scan
runs on. httpx still builds the TLS context (certifi's roots), so what a certificate must prove is unchanged.
The session is created with auto_decompress=False and every request with allow_redirects=False, which is
what lets this module own decoding and redirects.
"""

from __future__ import annotations

import asyncio
import email.utils
import heapq
import itertools
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit

import aiohttp
import aiohttp.abc
import httpx
from multidict import CIMultiDictProxy
from yarl import URL

from . import __version__
from .bodies import MAX_BODY, BoundedBody, decode_text, decoders_for
from .bodies import Failure as _Failure
from .classify import challenge_in
from .domains import registered_domain, site_of, url_problem
from .models import Outcome, Page

USER_AGENT = f"Mozilla/5.0 (compatible; exposure/{__version__}; personal data exposure audit)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRY_STATUSES = frozenset({408, 500, 502, 503, 504, 522, 524})
PARSED_TYPES = ("text/html", "application/xhtml+xml", "application/json", "text/json")
# How much of a 5xx answer is read to see whether it is a challenge page (they are a few KiB), and for how long.
PEEK_BODY = 256 * 1024
PEEK_SECONDS = 2.0


@dataclass(frozen=True)
class FetchSettings:
    """Limits for every request; defaults suit real sites, tests shrink them."""

    timeout: float = 20.0  # total per request: connect, every redirect hop and the whole body
    max_body: int = MAX_BODY  # decoded bytes
    max_redirects: int = 10
    retries: int = 2
    backoff: float = 1.0  # first retry waits about this long, then doubles, with jitter
    retry_after_cap: float = 60.0  # a longer Retry-After makes the site rate_limited at once
    # requests in flight across all sites; 0 lets a scan pick (`scan_concurrency`), a fetcher used alone takes 32
    concurrency: int = 32
    # Requests to one site (a rule's domain) in one scan, retries and redirect hops included. Every request
    # past it is not sent and ends `skipped`: a large profile, or a rule that pages and opens detail pages
    # without end, never hammers one site. 8 searches x 3 pages x 2 tries + 10 detail pages is far below.
    max_requests_per_site: int = 100
    user_agent: str = USER_AGENT
    # host -> "127.0.0.1:PORT": send requests for host to a local server instead (like curl --connect-to),
    # keeping the URL and Host header; how contract tests run real-site rules against fixture pages.
    connect_to: Mapping[str, str] = field(default_factory=dict)
    # False: hand bodies over as they came off the wire (at most max_body bytes) and let `decode_page` undo
    # gzip, deflate and brotli where the page is analysed, on another core; the scan does this
    decode_bodies: bool = True


def scan_concurrency(sites: int) -> int:
    """The scan's limit on requests in flight when the user sets none: enough that the sites' own politeness,
    not this limit, sets the pace. A site allows two requests at a time, half a second apart: with answers
    taking a tenth to half a second, each site keeps a fraction of a request in flight on average, so a thousand
    sites asked at once under a limit of 64 waited for slots (6,449 requests at 100 ms need at least 10 s
    through 64 slots, 1.5 times what politeness allows; 5 s through 128). An eighth of the sites, 32 at least
    (the catalog's scans), 128 at most: with 250 in flight the event loop handled so many answers at once that
    it woke up to 80 ms late (p99), 40-50 ms at 128, and the cores read no more pages a second."""
    return max(32, min(128, sites // 8))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


# ----------------------------------------------------------------- politeness


class SiteGate:
    """Per-site politeness: at most `concurrency` requests in flight and `delay` seconds between starts."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self._sem = asyncio.Semaphore(concurrency)
        self._delay = delay
        self._next = 0.0
        self._lock = asyncio.Lock()
        self.pending = 0  # the site's requests waiting for their turn or in flight: how much it has left to do
        self.unknown = 0  # requests the site may still need that no answer has revealed yet (see `left`)
        self._unanswered = 0  # searches whose first page is not read yet

    @property
    def left(self) -> int:
        """How many requests the site has left as far as the scan can tell: the ones it knows, plus the follow-ups
        its unanswered searches may still reveal (a rule with a detail hop opens listings' own pages)."""
        return self.pending + self.unknown

    def expect(self, searches: int, may_reveal: int) -> None:
        """The site will make `searches` searches, whose answers may lead to up to `may_reveal` more requests."""
        self._unanswered = searches
        self.unknown = may_reveal if searches else 0

    def answered(self) -> None:
        """One search's first page is read; once all are, what follows is known."""
        self._unanswered -= 1
        if self._unanswered <= 0:
            self.unknown = 0

    async def __aenter__(self) -> None:
        self.pending += 1
        try:
            await self._sem.acquire()
        except BaseException:
            self.pending -= 1
            raise
        try:
            async with self._lock:
                now = time.monotonic()
                wait = self._next - now
                self._next = max(now, self._next) + self._delay
            if wait > 0:
                await asyncio.sleep(wait)
        except BaseException:
            # cancelled while waiting its turn (a site deadline, Ctrl-C): __aexit__ will not run, so give the
            # slot back here, or every later request of the site would wait for ever
            self._sem.release()
            self.pending -= 1
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._sem.release()
        self.pending -= 1


class _Slots:
    """The scan's limit on requests in flight, given to the site with the most requests still to make first.

    A scan lasts as long as its slowest site, and a site's requests are spaced by its own politeness: with a
    thousand sites asking at once, first come first served kept the sites with the longest chains (searches,
    then each listing's page, then page 2) waiting behind everyone's first search, and they finished last.
    """

    def __init__(self, limit: int) -> None:
        self._free = limit
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def acquire(self, priority: int) -> None:
        """Lower `priority` goes first; equal ones in arrival order."""
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._order), turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # given a slot just as it was cancelled: pass it on
                self.release()
            raise

    def release(self) -> None:
        while self._waiting:
            turn = heapq.heappop(self._waiting)[2]
            if not turn.done():
                turn.set_result(None)
                return
        self._free += 1


class _ConnectTo(aiohttp.abc.AbstractResolver):
    """Resolves the hosts of `FetchSettings.connect_to` to their local server (address and port), like curl's
    --connect-to; every other host the normal way."""

    def __init__(self, routes: Mapping[str, str]) -> None:
        self._routes = {h.lower(): to for h, to in routes.items()}
        self._default = aiohttp.DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[aiohttp.abc.ResolveResult]:
        to = self._routes.get(host.lower())
        if to is None:
            return await self._default.resolve(host, port, family)  # type: ignore[arg-type]
        address, _, to_port = to.rpartition(":")
        return [
            {
                "hostname": host,
                "host": address,
                "port": int(to_port),
                "family": 2,  # AF_INET: local test servers listen on 127.0.0.1
                "proto": 0,
                "flags": 0,
            }
        ]

    async def close(self) -> None:
        await self._default.close()


# ----------------------------------------------------------------- cookies


class SiteCookies:
    """The cookies of one site, for a rule that needs them (`cookies = true`): sent back to that site only.

    A cookie is kept only when it is host-only or its Domain is the site's own registered domain (or a
    subdomain of it); "Domain=com" and any other public suffix, or another site's domain, are refused.
    """

    MAX = 50  # cookies kept per site

    def __init__(self, domain: str) -> None:
        self.domain = domain
        self.values: dict[str, str] = {}
        self.refused = 0

    def header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.values.items())

    def update(self, set_cookies: list[str], url: str) -> None:
        from http.cookies import CookieError, SimpleCookie

        for raw in set_cookies:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(raw)
            except CookieError:
                self.refused += 1
                continue
            for name, morsel in jar.items():
                scope = morsel["domain"].lstrip(".").lower()
                if scope and (not registered_domain(scope) or site_of(f"http://{scope}/") != site_of(url)):
                    self.refused += 1  # a public suffix, or someone else's domain
                    continue
                if len(self.values) < self.MAX or name in self.values:
                    self.values[name] = morsel.value


# ----------------------------------------------------------------- the fetcher


class PageSource(Protocol):
    """What the pipeline gets pages from: the plain `Fetcher`, or one site's `browser.SiteBrowser` (a rule
    with engine = "browser"). Both never raise for anything a site does: a failure is a `Page`."""

    async def get(
        self, url: str, domain: str, gate: SiteGate | None = None, cookies: SiteCookies | None = None
    ) -> Page: ...


class Fetcher:
    """One shared client for a whole scan. Use as an async context manager."""

    def __init__(
        self, settings: FetchSettings | None = None, ready: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self.settings = settings or FetchSettings()
        # awaited before each request: the page readers' backpressure (workers.AnalysisPool.room), so a scan
        # whose cores fall behind the network stops asking for pages rather than holding them all in memory
        self._ready = ready
        self._limit = self.settings.concurrency or 32  # 0 is a scan's own choice; alone, the old default
        self._global = _Slots(self._limit)
        self._session: aiohttp.ClientSession | None = None
        self.requests_sent = 0
        self.sent_to: dict[str, int] = {}  # requests per rule domain, for `max_requests_per_site`
        self.answers = 0  # responses of any kind: proof that the network works
        self.unreachable = 0  # requests whose host could not be found (DNS): a sign of no network

    @property
    def offline(self) -> bool:
        """Several hosts could not be found and nothing has answered: there is no network. Requests made from
        now on are not sent (each would wait for its own name lookup to fail the same way)."""
        return self.answers == 0 and self.unreachable >= OFFLINE_AFTER

    async def __aenter__(self) -> Fetcher:
        s = self.settings
        # No shared cookie jar: aiohttp's default jar takes "Domain=com" from one broker and sends it to every
        # other .com broker of the scan, which lets them correlate it. A rule that needs cookies gets a jar of
        # its own (SiteCookies) that never leaves its site.
        connector = aiohttp.TCPConnector(
            limit=self._limit * 2,
            limit_per_host=0,
            keepalive_timeout=5.0,
            ssl=httpx.create_ssl_context(trust_env=False),
            resolver=_ConnectTo(s.connect_to) if s.connect_to else None,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            auto_decompress=False,
            # The request deadline in `_bounded` is what ends a slow request, body included; these are only a
            # backstop, set a little later, so a hang always ends as "no complete answer within N s". No read
            # timeout: aiohttp moves its timer on every chunk that arrives, a tenth of the client's CPU per page,
            # for a deadline the request's own already enforces.
            timeout=aiohttp.ClientTimeout(total=None, connect=s.timeout + 1.0, sock_connect=min(10.0, s.timeout)),
            headers={
                "User-Agent": s.user_agent,
                "Accept": "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.5",
                "Accept-Encoding": "gzip, deflate, br",
                "Accept-Language": "en-US,en;q=0.8",
            },
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def get(
        self, url: str, domain: str, gate: SiteGate | None = None, cookies: SiteCookies | None = None
    ) -> Page:
        """Fetch a page for a rule of `domain`, with retries; never raises for anything the site does."""
        started = time.monotonic()
        problem = url_problem(url, domain)
        if problem:
            return _failed(url, Outcome.ERROR, f"not requested: {problem}", started)
        s = self.settings
        last: _Failure | None = None
        for attempt in range(s.retries + 1):
            try:
                return await self._attempt(url, domain, gate, started, cookies)
            except _Failure as failure:
                last = failure
                if not failure.retry or attempt == s.retries:
                    break
                if failure.retry_after is not None and failure.retry_after > s.retry_after_cap:
                    # waiting an hour for one page would hold up the scan: say so instead of sleeping
                    failure.detail += f"; the site asks us to wait {_duration(failure.retry_after)}"
                    break
                wait = s.backoff * (2**attempt) * (0.5 + random.random())
                if failure.retry_after is not None:
                    wait = max(wait, failure.retry_after)
                await asyncio.sleep(wait)
        assert last is not None
        return _failed(url, last.outcome, last.detail, started, last.status, last.final_url, last.raw)

    async def _attempt(
        self, url: str, domain: str, gate: SiteGate | None, started: float, cookies: SiteCookies | None
    ) -> Page:
        if gate is None:
            return await self._bounded(url, domain, started, cookies, 0)
        async with gate:
            return await self._bounded(url, domain, started, cookies, -gate.left)

    async def _bounded(self, url: str, domain: str, started: float, cookies: SiteCookies | None, priority: int) -> Page:
        await self._global.acquire(priority)
        try:
            if self._ready is not None:
                # asked with the slot held: a thousand requests already queued for a slot would otherwise all
                # pass this check at once, and the pages they fetch pile up all the same
                await self._ready()
            deadline = asyncio.timeout(self.settings.timeout)
            try:
                async with deadline:
                    return await self._follow(url, domain, started, cookies)
            except TimeoutError as exc:
                if not deadline.expired():
                    raise _Failure(
                        Outcome.TIMEOUT, "the site did not answer in time", retry=True, raw=repr(exc)
                    ) from exc
                # a server that used the whole deadline would use it again: do not retry
                raise _Failure(Outcome.TIMEOUT, f"no complete answer within {self.settings.timeout:g} s") from exc
        finally:
            self._global.release()

    async def _follow(self, url: str, domain: str, started: float, cookies: SiteCookies | None) -> Page:
        current = url
        for _hop in range(self.settings.max_redirects + 1):
            response = await self._open(current, cookies, domain)
            try:
                if cookies is not None:
                    cookies.update(response.headers.getall("set-cookie", []), current)
                if response.status in REDIRECT_STATUSES and "location" in response.headers:
                    location = response.headers["location"].strip()
                    problem: str | None
                    try:
                        target = urljoin(current, location)
                    except ValueError as exc:  # "http://[::1": urljoin raises on a malformed host
                        target, problem = location, f"malformed URL ({exc})"
                    else:
                        problem = url_problem(target, domain)
                    if problem:
                        raise _Failure(
                            Outcome.ERROR,
                            f"redirect to {target[:200]} refused: {problem}",
                            response.status,
                            final_url=current,
                        )
                    current = target
                    continue
                return await self._read(url, current, response, started)
            finally:
                # a body read to its end gives the connection back for the next request; one left unread (a
                # redirect, a refused type, a failure) is closed by aiohttp, so no unread bytes are waited for
                response.release()
        raise _Failure(Outcome.ERROR, f"more than {self.settings.max_redirects} redirects", final_url=current)

    async def _open(self, url: str, cookies: SiteCookies | None = None, domain: str = "") -> aiohttp.ClientResponse:
        assert self._session is not None, "use Fetcher as an async context manager"
        if self.offline:
            raise _Failure(Outcome.ERROR, NO_NETWORK, final_url=url)
        cap = self.settings.max_requests_per_site
        if self.sent_to.get(domain, 0) >= cap:
            raise _Failure(Outcome.SKIPPED, f"not requested: this scan sends at most {cap} requests to one site")
        self.sent_to[domain] = self.sent_to.get(domain, 0) + 1
        target, headers = self._route(url)
        if cookies is not None and cookies.header():
            headers["Cookie"] = cookies.header()
        try:
            address = URL(target)
            if not address.host or address.scheme not in ("http", "https"):
                raise ValueError("no host" if not address.host else f"scheme {address.scheme!r}")
        except (ValueError, TypeError) as exc:
            raise _Failure(Outcome.ERROR, f"not requested: malformed URL ({exc})", final_url=url) from exc
        self.requests_sent += 1
        try:
            response = await self._session.get(address, headers=headers or None, allow_redirects=False)
        except Exception as exc:  # whatever the connection does is the site's failure, never ours
            failure = _broken(exc, "the connection failed", None, url)
            if failure.detail.startswith(_DNS_WORDS):
                self.unreachable += 1
            raise failure from exc
        self.answers += 1
        return response

    async def _peek(self, response: aiohttp.ClientResponse, headers: Mapping[str, str], mime: str) -> bytes | None:
        if mime and not (mime in PARSED_TYPES or mime.endswith("+json")):
            return None
        return await _peek_body(
            response, headers, min(PEEK_BODY, self.settings.max_body), min(PEEK_SECONDS, self.settings.timeout)
        )

    def _route(self, url: str) -> tuple[str, dict[str, str]]:
        """A URL whose host is routed to a local server (connect_to) is asked over plain HTTP; its host stays
        in the URL, so the Host header, cookies and domain checks are exactly as in life."""
        parts = urlsplit(url)
        if (parts.hostname or "") not in self.settings.connect_to or parts.scheme != "https":
            return url, {}
        return urlunsplit(("http", parts.netloc, parts.path or "/", parts.query, "")), {}

    async def _read(self, url: str, final: str, response: aiohttp.ClientResponse, started: float) -> Page:
        status = response.status
        headers = _lower_headers(response.headers)
        if status == 429:
            retry_after = parse_retry_after(headers.get("retry-after"))
            raise _Failure(Outcome.RATE_LIMITED, "HTTP 429 Too Many Requests", status, retry_after, True, final)
        content_type = headers.get("content-type", "")
        mime = content_type.split(";", 1)[0].strip().lower()
        if status in RETRY_STATUSES:
            # a challenge served with 503 is a wall to report, not a flaky server to ask again
            peeked = await self._peek(response, headers, mime)
            if peeked is not None:
                text = decode_text(peeked, content_type)
                if challenge_in(status, headers, text):
                    return self._page(url, final, status, headers, peeked, text, mime, started)
            retry_after = parse_retry_after(headers.get("retry-after"))
            raise _Failure(Outcome.ERROR, f"HTTP {status} from the site", status, retry_after, True, final)
        if mime and not (mime in PARSED_TYPES or mime.endswith("+json")):
            # not a page: close the connection without downloading the body
            return Page(
                url,
                final,
                status,
                headers,
                b"",
                "",
                mime,
                Outcome.UNRECOGNIZED,
                f"the answer is {mime[:80]}, not a web page",
                time.monotonic() - started,
            )
        if not self.settings.decode_bodies:
            return await self._read_raw(url, final, response, headers, started, mime)
        raw_seen = 0
        try:
            body = BoundedBody(headers.get("content-encoding", ""), self.settings.max_body)
            async for chunk in response.content.iter_any():
                raw_seen += len(chunk)
                if raw_seen > self.settings.max_body:
                    raise _Failure(Outcome.ERROR, f"page larger than {self.settings.max_body // 1024} KiB: not read")
                body.feed(chunk)
            body.finish()
        except _Failure as failure:
            failure.status, failure.final_url = status, final
            raise
        except Exception as exc:  # a broken body is the site's failure, never ours
            raise _broken(exc, "the connection broke while the page was read", status, final) from exc
        data = body.value()
        return self._page(url, final, status, headers, data, decode_text(data, content_type), mime, started)

    async def _read_raw(
        self,
        url: str,
        final: str,
        response: aiohttp.ClientResponse,
        headers: dict[str, str],
        started: float,
        mime: str,
    ) -> Page:
        """The body as it came off the wire, capped; `decode_page` decodes it later, bounded the same way."""
        status = response.status
        encoding = headers.get("content-encoding", "")
        try:
            decoders_for(encoding)  # refuse what we never asked for before downloading it
            parts: list[bytes] = []
            seen = 0
            async for chunk in response.content.iter_any():
                seen += len(chunk)
                if seen > self.settings.max_body:
                    raise _Failure(Outcome.ERROR, f"page larger than {self.settings.max_body // 1024} KiB: not read")
                parts.append(chunk)
        except _Failure as failure:
            failure.status, failure.final_url = status, final
            raise
        except Exception as exc:  # a broken body is the site's failure, never ours
            raise _broken(exc, "the connection broke while the page was read", status, final) from exc
        coding = encoding if encoding.strip() else "identity"
        return self._page(url, final, status, headers, b"".join(parts), "", mime, started, coding)

    @staticmethod
    def _page(
        url: str,
        final: str,
        status: int,
        headers: dict[str, str],
        data: bytes,
        text: str,
        mime: str,
        started: float,
        encoded: str = "",
    ) -> Page:
        # headers: the response's, lower-cased once by the caller (`_lower_headers`)
        return Page(
            url=url,
            final_url=final,
            status=status,
            headers=headers,
            body=data,
            text=text,
            content_type=mime or "text/html",
            elapsed=time.monotonic() - started,
            fetched_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            encoded=encoded,
        )


def _lower_headers(headers: CIMultiDictProxy[str]) -> dict[str, str]:
    """A response's headers with lower-case names; a header sent several times is joined with commas (as the
    HTTP standard allows for lists, and as httpx gave them)."""
    out: dict[str, str] = {}
    for k, v in headers.items():
        key = k.lower()
        out[key] = f"{out[key]}, {v}" if key in out else v
    return out


async def _peek_body(
    response: aiohttp.ClientResponse, headers: Mapping[str, str], cap: int, seconds: float
) -> bytes | None:
    """At most `cap` decoded bytes of a body within `seconds`, or None: for looking at an error page."""
    try:
        body = BoundedBody(headers.get("content-encoding", ""), cap)
        async with asyncio.timeout(seconds):
            async for chunk in response.content.iter_any():
                body.feed(chunk)
        body.finish()
    except Exception:  # an error page we cannot read is just an error
        return None
    return body.value()


_DNS_WORDS = "the site's address could not be found (DNS)"
NO_NETWORK = "no network: nothing can be checked (the first sites' addresses could not be found (DNS))"
OFFLINE_AFTER = 3  # hosts that must fail to resolve, with no answer from anywhere, before the scan stops


def _broken(exc: BaseException, what: str, status: int | None, final: str) -> _Failure:
    """A failure for a connection that failed, in plain words, named after the real cause.

    aiohttp's exception tells a timeout from a refusal or a reset. A name that does not resolve and a refused
    connection are not retried: asking again in a second gets the same answer.
    """
    import socket
    import ssl

    cause = exc
    os_error = getattr(cause, "os_error", None)
    timed_out = isinstance(cause, TimeoutError)
    text = " ".join(str(cause).split())  # aiohttp parser errors span several lines
    raw = f"{type(cause).__name__}{f': {text[:300]}' if text else ''}"
    names = {t.__name__ for t in type(cause).__mro__}
    retry = True
    dns = isinstance(cause, socket.gaierror) or isinstance(os_error, socket.gaierror)
    if "ClientConnectorDNSError" in names or dns:
        outcome, detail, retry = Outcome.ERROR, _DNS_WORDS, False
    elif isinstance(cause, ConnectionRefusedError) or isinstance(os_error, ConnectionRefusedError):
        outcome, detail, retry = Outcome.ERROR, "the connection was refused", False
    elif "ClientConnectorCertificateError" in names or isinstance(cause, ssl.SSLError | ssl.CertificateError):
        outcome, detail, retry = Outcome.ERROR, "the site's secure connection could not be set up (TLS)", False
    elif timed_out:
        outcome, detail = Outcome.TIMEOUT, "the site did not answer in time"
    elif "ServerDisconnectedError" in names or isinstance(cause, ConnectionResetError):
        outcome, detail = Outcome.ERROR, "the site closed the connection"
    else:
        outcome, detail = Outcome.ERROR, what
    return _Failure(outcome, detail, status, retry=retry, final_url=final, raw=raw)


def _duration(seconds: float) -> str:
    if seconds >= 7200:
        return f"{seconds / 3600:.0f} hours"
    if seconds >= 120:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} s"


def _failed(
    url: str,
    outcome: Outcome,
    detail: str,
    started: float,
    status: int | None = None,
    final_url: str = "",
    raw: str = "",
) -> Page:
    return Page(url, final_url or url, status, {}, b"", "", "", outcome, detail, time.monotonic() - started, raw)
