"""The whole scan against the hostile web (tests/hostile/server.py), one test per scenario of issue 3.

Every test scans the hostile site beside two healthy ones on an ordinary server and checks both: the
hostile site ends in the status the truth demands, and the healthy sites still come out `found` and
`not_found`, so one bad site never spoils the rest of the scan. The bombs also measure memory: the growth
of the process's resident memory and the peak of Python allocations while the scan runs.
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import os
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import brotli
import pytest
from aiohttp import web
from conftest import fast_options, run_scan
from hostile.server import CANNED, CountingServer, HostileServer, SeenRequest, _BackgroundServer, bomb, page
from servers import Canned, LocalServer

from exposure.fetch import Fetcher, FetchSettings, SiteGate
from exposure.models import ExposureKind, Outcome, ScanResult, SiteResult, Status
from exposure.pipeline import ScanOptions
from exposure.profile import Profile
from exposure.rules import Rule

MiB = 1024 * 1024
NO_RESULTS = (
    b"<!doctype html><html><head><title>Search</title></head>"
    b"<body><div id='no-results'>No records found.</div></body></html>"
)


def site_rule(rule_id: str, base: str, path: str, **extra: Any) -> Rule:
    """A rule whose only search asks `base + path`: the hostile routes serve one scenario per path."""
    return Rule.model_validate(
        {
            "id": rule_id,
            "name": rule_id,
            "domain": base.removeprefix("http://"),
            "searches": [{"kind": "name", "url": base + path}],
            "pages": {"no_results": [{"selector": "#no-results"}]},
            "extract": {
                "listing": ".card",
                "fields": {"name": ".name", "age": ".age", "location": ".location", "phones": ".phones"},
                "link": "a.name@href",
            },
            "delay": 0,
            **extra,
        }
    )


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[HostileServer, CountingServer]]:
    bomb("gzip"), bomb("br")  # built once, before any memory is measured
    with CountingServer() as other, HostileServer(other_base=other.base, hold_seconds=10) as hostile:
        yield hostile, other


@pytest.fixture
def hostile(servers: tuple[HostileServer, CountingServer]) -> HostileServer:
    hostile = servers[0]
    hostile.hits.clear()
    return hostile


@pytest.fixture(scope="module")
def healthy() -> Iterator[LocalServer]:
    """An ordinary site: /found lists the user, every other path is its no-results page."""
    with LocalServer({"/found": Canned(page("results.html"))}, fallback=Canned(NO_RESULTS)) as server:
        yield server


@dataclass
class Scanned:
    site: SiteResult  # the hostile site's result
    scan: ScanResult
    seconds: float

    @property
    def requests(self) -> int:
        return int(self.scan.extra["requests"])


def scan_beside_healthy(
    profile: Profile, rules: list[Rule], healthy: LocalServer, options: ScanOptions | None = None
) -> Scanned:
    """Scan `rules` (the first is the one under test) together with two healthy sites, and check those."""
    companions = [site_rule("healthy-found", healthy.base, "/found"), site_rule("healthy-none", healthy.base, "/none")]
    started = time.monotonic()
    result = run_scan(profile, [*rules, *companions], options or fast_options(timeout=1.0))
    seconds = time.monotonic() - started
    by_id = {s.site.id: s for s in result.sites}
    assert by_id["healthy-found"].status is Status.FOUND, by_id["healthy-found"]
    assert by_id["healthy-none"].status is Status.NOT_FOUND, by_id["healthy-none"]
    return Scanned(by_id[rules[0].id], result, seconds)


def only_query(site: SiteResult) -> tuple[Outcome, str]:
    (query,) = site.queries
    return query.outcome, query.detail


# ------------------------------------------------------------------------------------------- memory


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class MemoryWatch:
    """Peak growth of resident memory (sampled every millisecond) and of Python allocations (tracemalloc).

    RSS catches what C code allocates (zlib and brotli state, aiohttp buffers); tracemalloc catches every
    Python bytes object exactly, even when freed memory is reused without the RSS moving.
    """

    def __init__(self) -> None:
        self.rss_growth = 0
        self.python_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._baseline = 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.rss_growth = max(self.rss_growth, _rss() - self._baseline)
            time.sleep(0.001)

    def __enter__(self) -> MemoryWatch:
        gc.collect()
        self._baseline = _rss()
        self._thread.start()
        tracemalloc.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.python_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        self._stop.set()
        self._thread.join()
        self.rss_growth = max(self.rss_growth, _rss() - self._baseline)


needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads RSS from /proc")


# --------------------------------------------------------------------------------- size and encodings


@needs_proc
@pytest.mark.parametrize("route", ["/gzip-bomb", "/deflate-bomb", "/brotli-bomb", "/big"])
def test_bombs_and_huge_bodies_stop_at_the_cap_with_little_memory(
    profile: Profile, hostile: HostileServer, healthy: LocalServer, route: str
) -> None:
    # 200 MiB (gzip, deflate), 256 MiB (brotli) and 50 MiB (plain) bodies against the default 5 MiB cap
    scan_beside_healthy(profile, [site_rule("warm-up", healthy.base, "/none")], healthy)  # first-session costs
    for kind in ("gzip", "br"):
        bomb(kind)  # the in-process server builds its bombs once: not the scanner's memory
    with MemoryWatch() as memory:
        scanned = scan_beside_healthy(profile, [site_rule("bomb", hostile.base, route)], healthy)
    assert scanned.site.status is Status.COULD_NOT_CHECK and scanned.site.reason is Outcome.ERROR
    assert "larger than 5120 KiB" in scanned.site.detail
    # the decoded bytes kept until the cap trips (5 MiB), plus the decoder's own window: up to 16 MiB for
    # brotli (RFC 7932's largest), 32 KiB for zlib. Either is far below the 200 to 256 MiB the bombs hold.
    limit = (16 + 5 + 6) * MiB if route == "/brotli-bomb" else 20 * MiB
    assert memory.rss_growth < limit, f"resident memory grew {memory.rss_growth / MiB:.1f} MiB"
    assert memory.python_peak < 20 * MiB, f"Python allocations peaked at {memory.python_peak / MiB:.1f} MiB"
    assert scanned.seconds < 3
    assert hostile.hits[route] == 1  # an oversize page is not worth asking for again


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "gzip, br"])
def test_large_compressed_page_is_read_to_its_end(profile: Profile, healthy: LocalServer, coding: str) -> None:
    # 1.5 MB of HTML whose only listing, the user's, comes last: a decoder that stops early reads "no listing"
    head, _, tail = page("results.html").partition(b'<section id="results" class="results">')
    filler = b"".join(
        b"<p>Search tips, item %d: try a middle initial or a former city.</p>\n" % i for i in range(22000)
    )
    html = head + filler + b'<section id="results" class="results">' + tail
    body = html
    for c in [c.strip() for c in coding.split(",")]:
        body = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress}[c](body)
    answer = Canned(body, headers={"Content-Encoding": coding})
    with LocalServer(fallback=answer) as compressed:
        scanned = scan_beside_healthy(profile, [site_rule("compressed", compressed.base, "/search")], healthy)
    assert len(html) > 1_500_000 and len(body) < 200_000
    assert scanned.site.status is Status.FOUND, scanned.site.detail


def test_more_than_two_stacked_encodings_are_refused(
    profile: Profile, hostile: HostileServer, healthy: LocalServer
) -> None:
    scanned = scan_beside_healthy(profile, [site_rule("stacked", hostile.base, "/stacked-encoding")], healthy)
    assert scanned.site.status is Status.COULD_NOT_CHECK and scanned.site.reason is Outcome.ERROR
    assert "4 stacked content encodings" in scanned.site.detail


@pytest.mark.parametrize(("query", "coding"), [("", "zstd"), ("?enc=br-x", "br-x")])
def test_encodings_we_did_not_ask_for_are_refused(
    profile: Profile, hostile: HostileServer, healthy: LocalServer, query: str, coding: str
) -> None:
    scanned = scan_beside_healthy(profile, [site_rule("unasked", hostile.base, "/unasked-encoding" + query)], healthy)
    assert scanned.site.status is Status.COULD_NOT_CHECK and scanned.site.reason is Outcome.ERROR
    assert f"content encoding {coding!r} that we did not ask for" in scanned.site.detail


# ---------------------------------------------------------------------------------------------- time


@pytest.mark.parametrize("route", ["/slow?interval=0.1", "/hang", "/no-headers-hang"])
def test_slow_hanging_and_silent_servers_end_at_the_request_deadline(
    profile: Profile, hostile: HostileServer, healthy: LocalServer, route: str
) -> None:
    # one byte every 0.1 s never trips a read timeout; headers then nothing; no answer at all
    options = fast_options(timeout=0.5)
    scanned = scan_beside_healthy(profile, [site_rule("slow", hostile.base, route)], healthy, options)
    assert scanned.site.status is Status.COULD_NOT_CHECK and scanned.site.reason is Outcome.TIMEOUT
    assert "no complete answer within 0.5 s" in scanned.site.detail
    assert 0.5 <= scanned.seconds < 1.3
    assert hostile.hits[route.split("?")[0]] == 1  # a server that used the whole deadline is not asked again


def test_per_site_deadline_ends_a_site_with_many_slow_requests(
    profile: Profile, hostile: HostileServer, healthy: LocalServer
) -> None:
    # three searches (one per name), one at a time, each ending at its 0.5 s request deadline: 1.5 s in all,
    # but the site's own deadline is 0.8 s
    rule = site_rule("many-slow", hostile.base, "/hang?who={full|slug}", concurrency=1)
    options = ScanOptions(
        fetch=FetchSettings(timeout=0.5, retries=0), delay_scale=0.0, site_deadline=0.8, today=fast_options().today
    )
    scanned = scan_beside_healthy(profile, [rule], healthy, options)
    assert scanned.site.status is Status.COULD_NOT_CHECK and scanned.site.reason is Outcome.TIMEOUT
    assert "the site did not finish within 0.8 s" in scanned.site.detail
    assert 0.8 <= scanned.seconds < 1.3
    assert hostile.hits["/hang"] == 2  # the third search never started


# ----------------------------------------------------------------------------------------- redirects


def test_redirect_loop_stops_after_ten_hops(profile: Profile, hostile: HostileServer, healthy: LocalServer) -> None:
    scanned = scan_beside_healthy(profile, [site_rule("loop", hostile.base, "/redirect-loop")], healthy)
    assert scanned.site.status is Status.COULD_NOT_CHECK and scanned.site.reason is Outcome.ERROR
    assert "more than 10 redirects" in scanned.site.detail
    assert hostile.hits["/redirect-loop"] == 11  # the first request and ten hops, then no more


@pytest.mark.parametrize(("hops", "found"), [(10, True), (11, False)])
def test_redirect_chain_within_the_limit_is_followed(
    profile: Profile, hostile: HostileServer, healthy: LocalServer, hops: int, found: bool
) -> None:
    scanned = scan_beside_healthy(profile, [site_rule("chain", hostile.base, f"/redirect-chain/{hops}")], healthy)
    if found:
        assert scanned.site.status is Status.FOUND
        assert scanned.site.queries[0].final_url == hostile.base + "/redirect-chain/0"
    else:
        assert scanned.site.status is Status.COULD_NOT_CHECK and "more than 10 redirects" in scanned.site.detail
        assert hostile.hits["/redirect-chain/0"] == 0


def test_307_to_another_site_is_not_followed(
    profile: Profile, servers: tuple[HostileServer, CountingServer], healthy: LocalServer
) -> None:
    hostile, other = servers
    before = other.count
    scanned = scan_beside_healthy(profile, [site_rule("offsite", hostile.base, "/redirect-307-offsite")], healthy)
    assert other.count == before  # the other origin never saw a request
    assert scanned.site.status is Status.COULD_NOT_CHECK and scanned.site.reason is Outcome.ERROR
    assert "outside the rule's domain" in scanned.site.detail


@pytest.mark.parametrize(
    ("route", "why"),
    [
        ("/redirect-js", "scheme 'javascript' is not http or https"),
        ("/redirect-file", "scheme 'file' is not http or https"),
        ("/redirect-userinfo", "URL carries user-info"),
    ],
)
def test_dangerous_redirects_are_refused_without_a_request(
    profile: Profile, hostile: HostileServer, healthy: LocalServer, route: str, why: str
) -> None:
    scanned = scan_beside_healthy(profile, [site_rule("redirect", hostile.base, route)], healthy)
    assert scanned.site.status is Status.COULD_NOT_CHECK and scanned.site.reason is Outcome.ERROR
    assert why in scanned.site.detail
    assert scanned.requests == 3  # the redirect itself and the two healthy searches: nothing else, no retry
    assert hostile.hits["/x"] == 0  # where the user-info redirect pointed


# ------------------------------------------------------------------------------------- block pages


BLOCK_PAGES = [route for route, canned in CANNED.items() if canned.blocked]
ANSWER_PAGES = [route for route, canned in CANNED.items() if not canned.blocked]


@pytest.mark.parametrize("route", BLOCK_PAGES)
def test_each_block_page_is_blocked_and_names_the_protection(
    profile: Profile, hostile: HostileServer, healthy: LocalServer, route: str
) -> None:
    scanned = scan_beside_healthy(profile, [site_rule("walled", hostile.base, route)], healthy)
    assert scanned.site.status is Status.COULD_NOT_CHECK and scanned.site.reason is Outcome.BLOCKED
    assert CANNED[route].vendor in scanned.site.detail
    assert only_query(scanned.site)[0] is Outcome.BLOCKED
    assert hostile.hits[route] == 1  # a wall is not asked again


@pytest.mark.parametrize("route", ANSWER_PAGES)
def test_results_pages_that_look_protected_are_read(
    profile: Profile, hostile: HostileServer, healthy: LocalServer, route: str
) -> None:
    # served through Cloudflare with its injected scripts, or saying "Access Denied" in a script and a form
    scanned = scan_beside_healthy(profile, [site_rule("answer", hostile.base, route)], healthy)
    assert only_query(scanned.site)[0] is Outcome.RESULTS
    assert scanned.site.status is Status.FOUND
    assert any(v.is_user for v in scanned.site.verdicts)


def test_challenge_served_with_503_is_blocked_not_retried(profile: Profile, healthy: LocalServer) -> None:
    # Cloudflare's "I'm Under Attack" challenge answers 503: a wall to name, not a flaky server to retry
    challenge = Canned(page("cloudflare.html"), 503, {"Server": "cloudflare", "cf-mitigated": "challenge"})
    with LocalServer(fallback=challenge) as walled:
        scanned = scan_beside_healthy(profile, [site_rule("walled-503", walled.base, "/search")], healthy)
        assert walled.paths == ["/search"]
    assert scanned.site.reason is Outcome.BLOCKED and "Cloudflare" in scanned.site.detail


# --------------------------------------------------------------------------------------- rate limits


def test_429_with_small_retry_after_waits_then_retries(
    profile: Profile, hostile: HostileServer, healthy: LocalServer
) -> None:
    answers = iter([web.Response(status=429, headers={"Retry-After": "1"}, text="slow down")])

    async def then_results(request: web.Request) -> web.StreamResponse:
        return next(answers, None) or web.Response(body=page("results.html"), content_type="text/html")

    with LocalServer(fallback=then_results) as recovering:
        rules = [
            site_rule("always-429", hostile.base, "/429-small"),
            site_rule("429-then-ok", recovering.base, "/search"),
        ]
        scanned = scan_beside_healthy(profile, rules, healthy)
        recovered = next(s for s in scanned.scan.sites if s.site.id == "429-then-ok")
        assert recovered.status is Status.FOUND and recovering.paths == ["/search", "/search"]
    assert scanned.site.status is Status.COULD_NOT_CHECK and scanned.site.reason is Outcome.RATE_LIMITED
    assert hostile.hits["/429-small"] == 2  # asked again once (retries=1)...
    assert scanned.seconds >= 1.0  # ...after the second the site asked for, not the 0.05 s backoff


def test_429_with_huge_retry_after_is_rate_limited_at_once(
    profile: Profile, hostile: HostileServer, healthy: LocalServer
) -> None:
    scanned = scan_beside_healthy(profile, [site_rule("huge", hostile.base, "/429-huge")], healthy)
    assert scanned.site.status is Status.COULD_NOT_CHECK and scanned.site.reason is Outcome.RATE_LIMITED
    assert "asks us to wait 60 minutes" in scanned.site.detail
    assert hostile.hits["/429-huge"] == 1
    assert scanned.seconds < 0.8  # no sleeping


def test_429_with_an_http_date_is_read_as_a_wait(
    profile: Profile, hostile: HostileServer, healthy: LocalServer
) -> None:
    # the date is 2-3 s ahead; with a 1 s cap that is too long to wait, which proves the date was understood
    options = fast_options(timeout=1.0, retry_after_cap=1.0)
    scanned = scan_beside_healthy(profile, [site_rule("dated", hostile.base, "/429-date")], healthy, options)
    assert scanned.site.reason is Outcome.RATE_LIMITED
    assert "asks us to wait 2 s" in scanned.site.detail or "asks us to wait 3 s" in scanned.site.detail
    assert hostile.hits["/429-date"] == 1 and scanned.seconds < 0.8


def test_503_then_200_is_retried_and_read(profile: Profile, hostile: HostileServer, healthy: LocalServer) -> None:
    scanned = scan_beside_healthy(profile, [site_rule("flaky", hostile.base, "/503-then-200?key=flaky")], healthy)
    assert scanned.site.status is Status.FOUND
    assert hostile.hits["/503-then-200"] == 2


# ------------------------------------------------------------------------------- unreadable content


def test_bad_charset_is_read_without_a_crash(profile: Profile, hostile: HostileServer, healthy: LocalServer) -> None:
    scanned = scan_beside_healthy(profile, [site_rule("charset", hostile.base, "/bad-charset")], healthy)
    assert only_query(scanned.site)[0] is Outcome.RESULTS
    assert scanned.site.status is Status.NOT_FOUND  # one listing, of someone else
    (verdict,) = scanned.site.verdicts
    # an unknown charset on a body that is not UTF-8 is read as Windows-1252, as browsers do
    assert verdict.listing.values[ExposureKind.NAME][0].value == "Zoë Testwood"


@pytest.mark.parametrize(("route", "mime"), [("/binary", "application/octet-stream"), ("/image", "image/png")])
def test_binary_content_is_could_not_check(
    profile: Profile, hostile: HostileServer, healthy: LocalServer, route: str, mime: str
) -> None:
    scanned = scan_beside_healthy(profile, [site_rule("binary", hostile.base, route)], healthy)
    assert scanned.site.status is Status.COULD_NOT_CHECK and scanned.site.reason is Outcome.UNRECOGNIZED
    assert f"the answer is {mime}, not a web page" in scanned.site.detail


def test_binary_body_is_not_downloaded() -> None:
    sent = 0

    async def endless_download(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = 256 * MiB
        await response.prepare(request)
        chunk = b"\0" * (256 * 1024)
        try:
            for _ in range(1024):
                await response.write(chunk)
                sent += len(chunk)
        except (ConnectionError, RuntimeError):
            pass  # the client hung up, as it should
        return response

    async def fetch(base: str) -> tuple[Any, float]:
        async with Fetcher(FetchSettings(timeout=5.0, retries=0)) as fetcher:
            started = time.monotonic()
            result = await fetcher.get(base + "/file.bin", base.removeprefix("http://"))
            return result, time.monotonic() - started

    with LocalServer(fallback=endless_download) as server:
        result, seconds = asyncio.run(fetch(server.base))
        time.sleep(0.2)  # let the server notice the hang-up
    assert result.failure is Outcome.UNRECOGNIZED and result.body == b""
    assert seconds < 1.0
    assert sent < 32 * MiB, f"{sent / MiB:.0f} MiB left the server"  # at most what socket buffers hold


def test_connection_reset_mid_body_is_an_error(profile: Profile, hostile: HostileServer, healthy: LocalServer) -> None:
    scanned = scan_beside_healthy(profile, [site_rule("reset", hostile.base, "/reset")], healthy)
    assert scanned.site.status is Status.COULD_NOT_CHECK and scanned.site.reason is Outcome.ERROR
    assert "connection broke while the page was read" in scanned.site.detail
    assert hostile.hits["/reset"] == 2  # a broken connection is worth one more try


# ------------------------------------------------------------------------------ the scan as a whole


def test_a_third_of_the_sites_broken_costs_at_most_the_slowest_deadline(
    profile: Profile, hostile: HostileServer, healthy: LocalServer
) -> None:
    options = ScanOptions(
        fetch=FetchSettings(timeout=0.5, retries=1, backoff=0.05),
        delay_scale=0.0,
        site_deadline=1.0,
        today=fast_options().today,
    )
    sane = [site_rule(f"healthy-{i}", healthy.base, f"/none/{i}") for i in range(10)]
    sane += [site_rule(f"listed-{i}", healthy.base, f"/found?{i}") for i in range(2)]
    broken_routes = ["/slow?interval=0.1", "/hang", "/no-headers-hang", "/gzip-bomb", "/reset", "/429-huge"]
    broken = [site_rule(f"broken-{i}", hostile.base, r) for i, r in enumerate(broken_routes)]

    started = time.monotonic()
    alone = run_scan(profile, sane, options)
    healthy_seconds = time.monotonic() - started
    started = time.monotonic()
    mixed = run_scan(profile, [*broken, *sane], options)
    mixed_seconds = time.monotonic() - started

    assert [s.status for s in mixed.sites[len(broken) :]] == [s.status for s in alone.sites]
    assert all(s.status is Status.COULD_NOT_CHECK for s in mixed.sites[: len(broken)])
    assert mixed_seconds <= healthy_seconds + options.site_deadline + 0.3, (healthy_seconds, mixed_seconds)


def test_site_gate_gives_its_slot_back_when_a_waiting_request_is_cancelled() -> None:
    async def main() -> float:
        gate = SiteGate(concurrency=1, delay=0.2)
        async with gate:
            pass

        async def enter() -> None:
            async with gate:
                pass

        waiting = asyncio.ensure_future(enter())  # holds the slot while it sleeps out the delay
        await asyncio.sleep(0.05)
        waiting.cancel()  # a site deadline or Ctrl-C
        started = time.monotonic()
        async with asyncio.timeout(2):
            await enter()
        return time.monotonic() - started

    assert asyncio.run(main()) < 1.0


# ---------------------------------------------------------------------- answers that are not HTTP at all


class _NotHttpServer(_BackgroundServer):
    """Answers every request with an SSH banner instead of a status line."""

    async def handle(self, request: SeenRequest, conn: Any) -> None:
        conn.writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await conn.writer.drain()


def test_malformed_answers_and_refused_connections_are_errors(profile: Profile, healthy: LocalServer) -> None:
    bad_location = Canned(b"moved", 302, {"Location": "http://[::1"})
    # a port nobody listens on: bound, never listening
    with _NotHttpServer() as not_http, LocalServer(fallback=bad_location) as bad_redirect, socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{s.getsockname()[1]}"
        rules = [
            site_rule("not-http", not_http.base, "/search"),
            site_rule("bad-location", bad_redirect.base, "/search"),
            site_rule("refused", refused, "/search"),
        ]
        scanned = scan_beside_healthy(profile, rules, healthy)
    by_id = {s.site.id: s for s in scanned.scan.sites}
    for rule_id, why in (
        ("not-http", "connection failed"),
        ("bad-location", "malformed URL"),
        ("refused", "connection was refused"),
    ):
        site = by_id[rule_id]
        assert site.status is Status.COULD_NOT_CHECK and site.reason is Outcome.ERROR, site
        assert why in site.detail, site.detail
        # people read plain words; the exception's name stays in the record for the JSON report
        assert "Error" not in site.detail and "Client" not in site.detail, site.detail
