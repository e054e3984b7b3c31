"""The browser engine over real HTTP on 127.0.0.1, in Debian's Chromium: sites whose listings exist only
after their scripts ran, the domain pin, the bounds, check pages with and without the person.

Every scan here runs the real pipeline (`pipeline.scan`) with the real `BrowserEngine`; the "person" of
the interactive tests is the test itself, clicking in the check page's window through Playwright. That
window is headless here (`BrowserSettings(visible=False)`): these machines have no screen and no Xvfb, and
the only difference is Chromium's `headless` launch flag.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web
from browser import ensure_chromium
from conftest import fast_options
from servers import Canned, LocalServer

from exposure.browser import BrowserSettings, BrowserSite, CheckPage
from exposure.models import ExposureKind, Outcome, ScanResult, SiteResult, Status
from exposure.pipeline import ScanOptions, scan
from exposure.profile import Profile
from exposure.rules import Rule, load_rule


@pytest.fixture(scope="module", autouse=True)
def chromium_present() -> None:
    ensure_chromium()


JANE = {"name": "Jane M Testwood", "age": "Age 47", "loc": "Springfield, IL", "phone": "(217) 555-0142"}
NAMESAKE = {"name": "Jane Testwood", "age": "Age 31", "loc": "Tucson, AZ", "phone": "(520) 555-0199"}

# Cards built by the page's script from data the HTML does not show: the plain engine sees an empty page.
RENDER = """
function render(people) {
  const app = document.getElementById('app');
  app.textContent = '';
  if (!people.length) {
    const none = document.createElement('div'); none.id = 'nothing';
    none.textContent = 'We found no records for that name.'; app.appendChild(none); return;
  }
  for (const p of people) {
    const card = document.createElement('div'); card.className = 'card';
    for (const key of ['name', 'age', 'loc', 'phone']) {
      const el = document.createElement(key === 'name' ? 'h2' : 'div');
      el.className = key; el.textContent = p[key]; card.appendChild(el);
    }
    app.appendChild(card);
  }
}
"""


def shell(script: str, head: str = "", title: str = "Search") -> str:
    return (
        f"<!doctype html><html><head><title>{title}</title>{head}</head>"
        f'<body><main id="app">Loading…</main><script>{RENDER}{script}</script></body></html>'
    )


def inline(people: list[dict[str, str]]) -> str:
    """A page whose people are only in a base64 string its script decodes."""
    data = base64.b64encode(json.dumps(people).encode()).decode()
    return shell(f"render(JSON.parse(atob('{data}')));")


RULE = """
    id = "{id}"
    name = "Script Site"
    domain = "{host}"
    engine = "{engine}"
    delay = 0.0
    concurrency = 3
    {extra}
    [[searches]]
    kind = "name"
    url = "{base}/name/{{first|lower|slug}}-{{last|lower|slug}}/{{state|lower}}"
    [[searches]]
    kind = "phone"
    url = "{base}/phone/{{phone}}"
    [[pages.no_results]]
    selector = "#nothing"
    [extract]
    listing = ".card"
    expect = ["name", "age"]
    [extract.fields]
    name = ".name"
    age = ".age"
    location = ".loc"
    phones = ".phone"
"""


def write_rule(
    tmp: Path, server: LocalServer, *, engine: str = "browser", extra: str = "", rule_id: str = "js"
) -> Rule:
    host = server.base.removeprefix("http://")
    path = tmp / f"{rule_id}.toml"
    text = RULE.format(id=rule_id, host=host, base=server.base, engine=engine, extra=extra)
    path.write_text(textwrap.dedent(text))
    return load_rule(path)


def options(**browser: object) -> ScanOptions:
    return replace(fast_options(), browser=BrowserSettings(**browser))  # type: ignore[arg-type]


def run(
    profile: Profile, rules: list[Rule], opts: ScanOptions | None = None, on_challenge: object = None
) -> ScanResult:
    return asyncio.run(scan(profile, rules, opts or options(), on_challenge=on_challenge))  # type: ignore[arg-type]


class Tripwire:
    """A TCP port that counts every connection made to it: "nothing leaks" means this stays at zero, which
    catches what an HTTP log would miss (a preconnect, a TLS attempt, a WebSocket)."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def __enter__(self) -> Tripwire:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()


def only(result: ScanResult) -> SiteResult:
    (site,) = result.sites
    return site


# ----------------------------------------------------------------- sites that exist only in their scripts


def test_cards_rendered_by_a_script_are_read_matched_and_the_plain_engine_could_not(
    tmp_path: Path, profile: Profile
) -> None:
    routes = {"/name/jane-testwood/il": Canned(inline([NAMESAKE, JANE]))}
    with LocalServer(routes, fallback=Canned(inline([]))) as server:
        browser_site = only(run(profile, [write_rule(tmp_path, server)]))
        plain_site = only(run(profile, [write_rule(tmp_path, server, engine="http", rule_id="plain")]))
    assert browser_site.status is Status.FOUND
    (mine,) = browser_site.user_listings
    shown = {(e.kind, e.matches_profile) for e in mine.exposed}
    assert (ExposureKind.PHONE, True) in shown and (ExposureKind.AGE, True) in shown
    assert [v.listing.values[ExposureKind.NAME][0].value for v in browser_site.namesakes] == ["Jane Testwood"]
    # every other search was answered by the script's own "no records" message
    assert {q.outcome for q in browser_site.queries} == {Outcome.RESULTS, Outcome.NO_RESULTS}
    # the same pages without running their scripts say nothing: never "not listed"
    assert plain_site.status is Status.COULD_NOT_CHECK and plain_site.reason is Outcome.UNRECOGNIZED


def test_listings_fetched_from_an_api_on_the_same_host_after_a_no_results_placeholder(
    tmp_path: Path, profile: Profile
) -> None:
    """The page first shows the site's "no records" message, then replaces it with what its API answers
    (late, on purpose): read before the network went quiet, it would say "not listed"."""

    async def api(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.6)
        people = [JANE] if request.path in ("/api/name/jane-testwood/il", "/api/phone/2175550142") else []
        return web.json_response(people)

    script = "render([]); fetch('/api' + location.pathname).then(r => r.json()).then(render);"

    async def any_page(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/api/"):
            return await api(request)
        return await Canned(shell(script))(request)

    with LocalServer(fallback=any_page) as server:
        site = only(run(profile, [write_rule(tmp_path, server)]))
        api_calls = [p for p in server.paths if p.startswith("/api/")]
    assert site.status is Status.FOUND, site.detail
    assert len(site.user_listings) == 1  # the name and the phone search found the same card
    assert "/api/name/jane-testwood/il" in api_calls and "/api/phone/2175550142" in api_calls
    # searches the API answered with nobody: the site's own no-results message, after the API had answered
    assert Outcome.NO_RESULTS in {q.outcome for q in site.queries}


# ----------------------------------------------------------------- the domain pin


def test_requests_to_other_hosts_are_aborted_counted_and_never_leave(tmp_path: Path, profile: Profile) -> None:
    with (
        Tripwire() as other,
        LocalServer({"/render.js": Canned("render(window.PEOPLE);", content_type="text/javascript")}) as assets,
    ):
        trap = other.base
        attempts = f"""
            fetch('{trap}/fetch?who=jane').catch(() => 0);
            navigator.sendBeacon('{trap}/beacon', 'jane testwood');
            try {{ new WebSocket('ws://127.0.0.1:{other.port}/ws'); }} catch (e) {{}}
            const img = new Image(); img.src = '{trap}/pixel.gif';
            const frame = document.createElement('iframe');
            frame.src = '{trap}/frame';
            document.body.appendChild(frame);
            window.open('{trap}/popup');
        """
        head = (
            f'<link rel="preconnect" href="{trap}"><link rel="stylesheet" href="{trap}/x.css">'
            f'<script src="{trap}/tracker.js"></script><link rel="icon" href="{trap}/favicon.ico">'
        )

        def page(people: list[dict[str, str]]) -> Canned:
            data = json.dumps(people)
            script = f"window.PEOPLE = {data};"
            return Canned(
                shell(attempts + script, head=head + f'<script defer src="{assets.base}/render.js"></script>')
            )

        # the cards are drawn by a script from the declared asset host, after the page's own script
        routes = {"/name/jane-testwood/il": page([JANE])}
        with LocalServer(routes, fallback=page([])) as server:
            asset_host = assets.base.removeprefix("http://")
            rule = write_rule(tmp_path, server, extra=f'asset_hosts = ["{asset_host}"]')
            result = run(profile, [rule])
        site = only(result)
        assert other.connections == 0  # not one TCP connection reached the other host
    assert site.status is Status.FOUND, site.detail
    assert "/render.js" in assets.paths  # the declared asset host was allowed
    blocked = f"127.0.0.1:{other.port}"
    assert all(blocked in q.detail and "all blocked" in q.detail for q in site.queries), [
        q.detail for q in site.queries
    ]
    assert int(result.extra["browser_blocked"]) >= len(site.queries)
    assert int(result.extra["browser_pages"]) == len(site.queries)


def test_a_redirect_to_another_host_is_refused(tmp_path: Path, profile: Profile) -> None:
    with Tripwire() as other:

        async def away(request: web.Request) -> web.StreamResponse:
            raise web.HTTPFound(f"{other.base}/elsewhere?name=jane")

        with LocalServer(fallback=away) as server:
            site = only(run(profile, [write_rule(tmp_path, server)]))
        assert other.connections == 0
    assert site.status is Status.COULD_NOT_CHECK and site.reason is Outcome.ERROR
    assert f"went to 127.0.0.1:{other.port}, outside the rule's domain: refused" in site.detail


# ----------------------------------------------------------------- bounds


def test_a_page_that_loads_too_much_is_not_read(tmp_path: Path, profile: Profile) -> None:
    big = "/*" + "x" * (2 * 1024 * 1024) + "*/ render([]);"
    routes = {"/big.js": Canned(big, content_type="text/javascript")}
    page = "<!doctype html><html><body><main id=app></main><script>" + RENDER + "</script><script src=/big.js></script>"
    with LocalServer(routes, fallback=Canned(page)) as server:
        site = only(run(profile, [write_rule(tmp_path, server)], options(max_transfer=512 * 1024)))
    assert site.status is Status.COULD_NOT_CHECK and site.reason is Outcome.ERROR
    assert "passed 512 KiB: not read" in site.detail


def test_a_page_that_never_stops_loading_is_a_timeout_not_an_answer(tmp_path: Path, profile: Profile) -> None:
    """It shows the site's no-results message at once, but keeps asking its server: never "not listed"."""
    script = "render([]); setInterval(() => fetch('/poll?' + Math.random()), 100);"
    with LocalServer(fallback=Canned(shell(script))) as server:
        opts = replace(options(), fetch=replace(fast_options().fetch, timeout=2.0))
        site = only(run(profile, [write_rule(tmp_path, server)], opts))
    assert site.status is Status.COULD_NOT_CHECK and site.reason is Outcome.TIMEOUT
    assert "still loading after 2 s" in site.detail


def test_a_rendered_page_over_the_body_limit_is_not_read(tmp_path: Path, profile: Profile) -> None:
    script = "render([]); document.body.appendChild(document.createTextNode('y'.repeat(300000)));"
    with LocalServer(fallback=Canned(shell(script))) as server:
        opts = replace(options(), fetch=replace(fast_options().fetch, max_body=200 * 1024))
        site = only(run(profile, [write_rule(tmp_path, server)], opts))
    assert site.status is Status.COULD_NOT_CHECK and "larger than 200 KiB" in site.detail


# ----------------------------------------------------------------- check pages and the person


CHALLENGE = """<!doctype html><html><head><title>Just a moment...</title></head><body>
<p>Checking your browser before accessing the site.</p>
<label><input type="checkbox" id="tick"> I am a person</label>
<script>
document.getElementById('tick').addEventListener('change', () => {
  document.cookie = 'passed=1; path=/';
  setTimeout(() => location.reload(), 200);
});
</script></body></html>"""


@pytest.fixture
def walled() -> Iterator[LocalServer]:
    """A site behind a scripted check: a page with a box to tick, until the visitor carries its cookie."""

    async def search(request: web.Request) -> web.StreamResponse:
        if request.cookies.get("passed") != "1":
            return web.Response(text=CHALLENGE, content_type="text/html")
        people = [JANE] if request.path == "/name/jane-testwood/il" else []
        return web.Response(text=inline(people), content_type="text/html")

    with LocalServer(fallback=search) as server:
        yield server


def test_a_check_page_without_interactive_is_could_not_check_blocked(
    tmp_path: Path, profile: Profile, walled: LocalServer
) -> None:
    site = only(run(profile, [write_rule(tmp_path, walled)]))
    assert site.status is Status.COULD_NOT_CHECK and site.reason is Outcome.BLOCKED
    assert "Cloudflare" in site.detail  # named after the challenge it imitates


def test_the_person_clears_the_check_page_and_the_scan_goes_on(
    tmp_path: Path, profile: Profile, walled: LocalServer
) -> None:
    shown: list[CheckPage] = []

    async def person(notice: CheckPage) -> None:
        shown.append(notice)
        await notice.window.check("#tick")  # what the person does in the window

    rule = write_rule(tmp_path, walled)
    site = only(run(profile, [rule], options(interactive=True, visible=False, wait=20), person))
    assert site.status is Status.FOUND, site.detail
    assert {q.outcome for q in site.queries} <= {Outcome.RESULTS, Outcome.NO_RESULTS}
    # asked once: the other searches of the site went through in the same window's context
    assert len(shown) == 1 and shown[0].site == "Script Site" and shown[0].protection == "Cloudflare"
    assert shown[0].url.startswith(walled.base)
    # the context was thrown away with the site: the next scan meets the check page again
    again = only(run(profile, [rule]))
    assert again.status is Status.COULD_NOT_CHECK and again.reason is Outcome.BLOCKED


def test_cookies_are_kept_between_scans_only_when_asked(tmp_path: Path, profile: Profile, walled: LocalServer) -> None:
    state = tmp_path / "state"

    async def person(notice: CheckPage) -> None:
        await notice.window.check("#tick")

    rule = write_rule(tmp_path, walled)
    first = only(run(profile, [rule], options(interactive=True, visible=False, state_dir=state), person))
    assert first.status is Status.FOUND
    saved = state / "js.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600 and stat.S_IMODE(state.stat().st_mode) == 0o700
    assert [c["name"] for c in json.loads(saved.read_text())["cookies"]] == ["passed"]
    # no person this time: the kept cookie is what gets the scan through
    second = only(run(profile, [rule], options(state_dir=state)))
    assert second.status is Status.FOUND


def test_a_check_page_the_person_does_not_complete_is_blocked(
    tmp_path: Path, profile: Profile, walled: LocalServer
) -> None:
    shown: list[CheckPage] = []
    site = only(
        run(profile, [write_rule(tmp_path, walled)], options(interactive=True, visible=False, wait=1.5), shown.append)
    )
    assert len(shown) == 1  # asked once; after that the site is not shown again
    assert site.status is Status.COULD_NOT_CHECK and site.reason is Outcome.BLOCKED
    assert "not completed within 1.5 s" in site.detail


def test_interactive_without_a_screen_says_so(
    tmp_path: Path, profile: Profile, walled: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    shown: list[CheckPage] = []
    site = only(run(profile, [write_rule(tmp_path, walled)], options(interactive=True), shown.append))
    assert not shown
    assert site.status is Status.COULD_NOT_CHECK and site.reason is Outcome.BLOCKED
    assert "needs a screen" in site.detail


# ----------------------------------------------------------------- no browser here


def test_missing_chromium_is_could_not_check_and_plain_sites_still_scan(tmp_path: Path, profile: Profile) -> None:
    routes = {"/name/jane-testwood/il": Canned(inline([JANE]))}
    plain_page = (
        '<!doctype html><html><body><div class="card"><h2 class="name">Jane M Testwood</h2>'
        '<div class="age">Age 47</div><div class="phone">(217) 555-0142</div></div></body></html>'
    )
    with LocalServer(routes, fallback=Canned(inline([]))) as js, LocalServer(fallback=Canned(plain_page)) as plain:
        rules = [write_rule(tmp_path, js), write_rule(tmp_path, plain, engine="http", rule_id="plain")]
        result = run(profile, rules, options(executable=tmp_path / "no-chromium"))
    by_id = {s.site.id: s for s in result.sites}
    assert by_id["js"].status is Status.COULD_NOT_CHECK and by_id["js"].reason is Outcome.ERROR
    assert f"Chromium was not found at {tmp_path / 'no-chromium'}" in by_id["js"].detail
    assert not js.paths  # nothing was sent some other way instead
    assert by_id["plain"].status is Status.FOUND


def test_missing_playwright_is_could_not_check_with_the_install_hint(tmp_path: Path, profile: Profile) -> None:
    with LocalServer(fallback=Canned(inline([JANE]))) as server:
        rule = write_rule(tmp_path, server)
        code = textwrap.dedent(
            f"""
            import sys, asyncio
            sys.modules["playwright"] = None  # as if `exposure[browser]` was not installed
            from pathlib import Path
            from exposure.pipeline import scan
            from exposure.profile import load_profile
            from exposure.rules import load_rule
            profile = load_profile(Path({str(Path(__file__).parent / "fixtures/profiles/default.toml")!r}))
            site = asyncio.run(scan(profile, [load_rule(Path({str(tmp_path / "js.toml")!r}))])).sites[0]
            print(site.status.value, site.reason.value, site.detail)
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env={**os.environ}, check=False
        )
        assert rule.engine == "browser"
        assert not server.paths
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("could_not_check error ")
    assert "Playwright is not installed (pip install 'exposure[browser]')" in done.stdout


def test_a_named_host_routed_to_loopback_and_an_unknown_host_refused_by_name(tmp_path: Path, profile: Profile) -> None:
    """`FetchSettings.connect_to` works in the browser engine too (for http:// URLs), and a host outside the
    pin is refused by name: the proxy never looks it up."""
    script = "fetch('http://tracker.invalid/collect?q=jane').catch(() => 0);"
    routes = {"/name/jane-testwood/il": Canned(shell(script + f"render({json.dumps([JANE])});"))}
    with LocalServer(routes, fallback=Canned(shell(script + "render([]);"))) as server:
        path = tmp_path / "named.toml"
        text = RULE.format(id="named", host="people.test", base="http://people.test", engine="browser", extra="")
        path.write_text(textwrap.dedent(text))
        opts = replace(
            options(), fetch=replace(fast_options().fetch, connect_to={"people.test": f"127.0.0.1:{server.port}"})
        )
        site = only(run(profile, [load_rule(path)], opts))
        hosts = {headers.get("Host") for _, _, headers in server.requests}
    assert site.status is Status.FOUND, site.detail
    assert hosts == {"people.test"}  # the URL and its Host header stay as in life
    assert all("tracker.invalid:80" in q.detail for q in site.queries)


def test_what_a_site_may_connect_to() -> None:
    site = BrowserSite("s", "S", "example.com", ("cdn.example.net", "127.0.0.1:8081"))
    assert site.allows("example.com", 443) and site.allows("www.example.com", 80)
    assert site.allows("cdn.example.net", 443) and site.allows("127.0.0.1", 8081)
    assert not site.allows("127.0.0.1", 8082) and not site.allows("evil.example.net", 443)
    assert not site.allows("example.com.evil.net", 443) and not site.allows("sub.cdn.example.net", 443)
    loopback = BrowserSite("l", "L", "127.0.0.1:5000")
    assert loopback.allows("127.0.0.1", 5000) and not loopback.allows("127.0.0.1", 5001)


def test_a_site_that_is_down_says_so_in_plain_words(tmp_path: Path, profile: Profile) -> None:
    with LocalServer() as server:
        rule = write_rule(tmp_path, server)
    # the server is gone: its port refuses connections
    site = only(run(profile, [rule]))
    assert site.status is Status.COULD_NOT_CHECK and site.reason is Outcome.ERROR
    assert "the connection was refused" in site.detail


def test_scan_interactive_flag_reaches_the_engine(
    tmp_path: Path, walled: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the CLI: --interactive on a machine without a screen says why the check page was not shown."""
    from typer.testing import CliRunner

    from exposure.cli import app

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    rules = tmp_path / "rules"
    rules.mkdir()
    write_rule(rules, walled)
    out = tmp_path / "out"
    args = ["scan", "--profile", str(Path(__file__).parent / "fixtures/profiles/default.toml"), "--rules", str(rules)]
    args += ["--out", str(out), "--format", "json", "--no-history", "--timeout", "5"]
    plain = CliRunner().invoke(app, args)
    asked = CliRunner().invoke(app, [*args, "--interactive", "--interactive-wait", "5"])
    assert plain.exit_code == 3 and asked.exit_code == 3, asked.output
    details = [json.loads(p.read_text())["sites"][0]["detail"] for p in sorted(out.glob("*.json"))]
    assert any("needs a screen" in d for d in details) and any("needs a screen" not in d for d in details)


def test_a_browser_listing_hands_its_rendered_page_to_evidence(tmp_path: Path, profile: Profile) -> None:
    """Evidence (issue 13) keeps the pages behind the user's listings: for a browser site, the rendered page
    that showed the listing, with the time it was read."""
    from exposure.models import SitePages

    routes = {"/name/jane-testwood/il": Canned(inline([JANE]))}
    kept: list[SitePages] = []
    with LocalServer(routes, fallback=Canned(inline([]))) as server:
        rule = write_rule(tmp_path, server)
        result = asyncio.run(scan(profile, [rule], options(), on_pages=kept.append))
    assert only(result).status is Status.FOUND
    (pages,) = kept
    (page,) = pages.pages
    assert page.url == f"{server.base}/name/jane-testwood/il" and page.fetched_at.endswith("Z")
    assert b'<h2 class="name">Jane M Testwood</h2>' in page.body  # built by the script: not in what was sent


def test_the_per_site_request_cap_holds_in_the_browser_too(tmp_path: Path, profile: Profile) -> None:
    with LocalServer(fallback=Canned(inline([]))) as server:
        opts = replace(options(), fetch=replace(fast_options().fetch, max_requests_per_site=2))
        site = only(run(profile, [write_rule(tmp_path, server)], opts))
        loaded = [p for p in server.paths if p.startswith(("/name/", "/phone/"))]
    assert len(loaded) == 2
    assert site.status is Status.COULD_NOT_CHECK
    assert sum("at most 2 requests to one site" in q.detail for q in site.queries) == len(site.queries) - 2
