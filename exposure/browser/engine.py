"""The browser engine: a site's pages loaded in Chromium through Playwright, read like any other page.

A rule with `engine = "browser"` gets a `SiteBrowser` instead of the plain `Fetcher`; both answer
`get(url, domain, gate, cookies) -> Page`, so the pipeline does not know which one it holds. What comes
back is the rendered document (the DOM after the page's scripts ran and the network went quiet) with the
status and headers of the main response, and the existing classify / extract / match read it unchanged.

The same promises as the plain fetcher:
- **Domain pinning.** Each site's context goes through its own `PinningProxy` (socks.py): a connection to
  anything outside the rule's domain and its `asset_hosts` is refused and counted, whatever opened it
  (script, image, redirect, favicon, preconnect, WebSocket). Service workers are blocked, downloads
  refused, pop-ups closed, dialogs dismissed, and WebRTC kept off non-proxied UDP.
- **Bounds.** One page (load, scripts, reading) has the request deadline `FetchSettings.timeout`; the
  rendered document is at most `FetchSettings.max_body`; everything the page loads together at most
  `BrowserSettings.max_transfer` decoded bytes, counted as it arrives (DevTools `Network.dataReceived`), so a
  page over it is closed before it is finished.
- **A page is read only once it is complete**: after `load`, the network must go quiet (no request for
  500 ms) within the deadline. A script that shows "no results" first and the listings a second later
  would otherwise read as "not listed"; a page that never goes quiet ends as a timeout, never as an answer.
- **One browser per scan**, launched on the first browser page (a scan without browser rules starts
  nothing), with at most `BrowserSettings.pages` pages open at once; a **context per site**, thrown away
  when the site is done, so nothing one site set is seen by another or by the next scan, unless the user
  asks to keep the site's own cookies (`state_dir`).
- A missing Playwright or Chromium is a status: every browser site ends "could not check" with the reason.

Person in the loop: with `interactive`, a check page (a challenge such as Cloudflare's "Just a moment") is
opened in a visible window and the person is told what to do; the site's remaining pages then load in
that window's context. Nothing here clicks, solves or hides anything to get past a check: the person does
it, or the site stays "could not check". The engine announces itself as the Chromium it is (its own user
agent, headless included).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..bodies import decode_text
from ..chromium import LAUNCH_ARGS, default_chromium
from ..classify import challenge_in, detect_protection, matches
from ..domains import normalize_domain, url_problem
from ..fetch import FetchSettings, SiteCookies, SiteGate
from ..models import Outcome, Page
from ..parse import Document
from ..profile import write_private
from ..rules import PageMatcher, Rule
from .socks import PinningProxy, host_port

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Playwright, Response
    from playwright.async_api import Page as Tab

INSTALL_HINT = "pip install 'exposure[browser]'"
POLL_SECONDS = 0.5  # how often a check page shown to the person is looked at again


def default_state_dir() -> Path:
    """Where `--keep-browser-cookies` keeps each site's own cookies (~/.local/share/exposure/browser-cookies)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("exposure")) / "browser-cookies"


@dataclass(frozen=True)
class BrowserSettings:
    """Limits and choices for the browser engine; the defaults suit a scan on a person's own machine."""

    executable: Path = field(default_factory=default_chromium)
    pages: int = 3  # pages loading at once across the whole scan
    # sites in the browser at once, each with its own context and tabs (a tab costs a renderer process, and a
    # site's next page in its own tab is much cheaper than in a new one); the others wait their turn
    sites: int = 3
    max_transfer: int = 20 * 1024 * 1024  # decoded bytes one page may load in all (document, scripts, API answers)
    interactive: bool = False  # show check pages to the person in a window (`scan --interactive`)
    wait: float = 180.0  # seconds the person has to get through one check page
    visible: bool = True  # the check page's window is a real window; tests run it headless
    state_dir: Path | None = None  # keep each site's own cookies here between scans (`--keep-browser-cookies`)
    # Chromium runs this much nicer than the scan itself: rendering is CPU-hungry, and on a 2-core machine it
    # would otherwise slow the reading of every plain site's pages (benchmarks/browser.py)
    nice: int = 10


@dataclass(frozen=True)
class BrowserSite:
    """What the engine needs to know about a site: where it may connect, and what its block page looks like."""

    id: str
    name: str
    domain: str
    asset_hosts: tuple[str, ...] = ()
    blocked: tuple[PageMatcher, ...] = ()

    @classmethod
    def of(cls, rule: Rule) -> BrowserSite:
        return cls(rule.id, rule.name, rule.domain, tuple(rule.asset_hosts), tuple(rule.pages.blocked))

    def allows(self, host: str, port: int) -> bool:
        """Whether a page of this site may connect to host:port: the rule's own site, or a declared asset host
        ("cdn.example.net" on any port, "127.0.0.1:8081" on that port only)."""
        if url_problem(f"http://{host_port(host, port)}/", self.domain) is None:
            return True
        for asset in self.asset_hosts:
            name, _, asset_port = asset.rpartition(":") if ":" in asset else (asset, "", "")
            if name.lower() == host.lower() and (not asset_port or int(asset_port) == port):
                return True
        return False


@dataclass(frozen=True)
class CheckPage:
    """A check page (a challenge) shown to the person in a window, for them to get through."""

    site: str  # the site's name, as the person knows it
    url: str
    protection: str  # "Cloudflare", "the site's own block page", ...
    wait: float  # seconds the scan waits for them
    window: Tab  # the page shown; a test drives it with Playwright


ChallengeHandler = Callable[[CheckPage], Awaitable[None] | None]


class Unavailable(Exception):
    """The browser engine cannot run here (no Playwright, no Chromium, or Chromium would not start)."""


def check_page_of(page: Page, blocked: Sequence[PageMatcher] = ()) -> str | None:
    """What kind of check page this is (a protection vendor's challenge, or the site's own block page), or
    None for a page that is the site's answer. Strong markers only: a listing page that loads a vendor's
    sensor script is not a check page."""
    if page.failure is not None:
        return None
    name = challenge_in(page.status, page.headers, page.text)
    if name:
        return name
    doc = Document(page.text, page.final_url)
    try:
        if any(matches(m, page, doc) for m in blocked):
            return "the site's own block page"
    except Exception:  # a rule pattern that runs too long: classification will say so
        return None
    return detect_protection(page, doc, weak_allowed=False)


def no_screen() -> str | None:
    """Why no window can be shown here, or None."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "--interactive needs a screen to show it, and there is none here (DISPLAY is not set)"
    return None


def descendants() -> set[int]:
    """The processes this one started, and theirs (Linux /proc; empty elsewhere)."""
    if not sys.platform.startswith("linux"):
        return set()
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return set()
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out: set[int] = set()
    todo = list(children.get(os.getpid(), ()))
    while todo:
        pid = todo.pop()
        out.add(pid)
        todo.extend(children.get(pid, ()))
    return out


def _tree_of(roots: set[int]) -> set[int]:
    """These processes (those still alive) and every process they started since."""
    alive = {pid for pid in roots if os.path.exists(f"/proc/{pid}")}
    children: dict[int, list[int]] = {}
    for pid in descendants():
        try:
            with open(f"/proc/{pid}/stat") as f:
                children.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(pid)
        except (OSError, ValueError, IndexError):
            continue
    out, todo = set(), list(alive)
    while todo:
        pid = todo.pop()
        if pid not in out:
            out.add(pid)
            todo.extend(children.get(pid, ()))
    return out


def lower_priority(pids: set[int], nice: int) -> None:
    """Renice these processes, each thread of each: Linux keeps niceness per thread, and the renderers
    Chromium forks later inherit their zygote's. Best effort: what cannot be reniced is left as it is."""
    for pid in pids:
        try:
            threads = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue
        for tid in threads:
            with contextlib.suppress(OSError):
                if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                    os.setpriority(os.PRIO_PROCESS, tid, nice)


def _failed(url: str, outcome: Outcome, detail: str, started: float, refused: tuple[str, ...] = ()) -> Page:
    return Page(url, url, None, {}, b"", "", "", outcome, detail, time.monotonic() - started, refused=refused)


class BrowserEngine:
    """One Chromium for a whole scan, launched on first use. Use as an async context manager."""

    def __init__(
        self,
        settings: BrowserSettings | None = None,
        fetch: FetchSettings | None = None,
        on_challenge: ChallengeHandler | None = None,
    ) -> None:
        self.settings = settings or BrowserSettings()
        self.fetch = fetch or FetchSettings()
        self.on_challenge = on_challenge
        self.tabs = asyncio.Semaphore(self.settings.pages)
        self.site_turns = asyncio.Semaphore(self.settings.sites)
        self.person = asyncio.Lock()  # one check page in front of the person at a time
        self.pages_loaded = 0
        self.refused: Counter[str] = Counter()  # "host:port" -> attempts refused, every site together
        self._sites: dict[str, SiteBrowser] = {}
        self._open_tabs = 0  # busy and idle, across the scan
        self.max_tabs = 2 * self.settings.sites  # open tabs beyond this close the least recently used idle one
        self._idle: list[_Tab] = []  # least recently used first
        self._lock = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._browsers: dict[bool, Browser] = {}  # by "visible"
        self._unavailable: str | None = None
        self._ours: set[int] = set()  # the processes the engine started (for `nice`)
        self._renicer: asyncio.Future[None] | None = None

    async def __aenter__(self) -> BrowserEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def launched(self) -> bool:
        return bool(self._browsers)

    def site(self, site: BrowserSite) -> SiteBrowser:
        """The fetcher of one site's pages (one context, created on its first page)."""
        found = self._sites.get(site.id)
        if found is None:
            found = self._sites[site.id] = SiteBrowser(self, site)
        return found

    def for_rule(self, rule: Rule) -> SiteBrowser:
        return self.site(BrowserSite.of(rule))

    async def release(self, site_id: str) -> None:
        """The site is done: its context (cookies, cache, storage) and its proxy are thrown away."""
        found = self._sites.pop(site_id, None)
        if found is not None:
            for slot in [t for t in self._idle if t.site is found]:
                self._idle.remove(slot)
                self._open_tabs -= 1
            await found.close()

    async def take_tab(self, site: SiteBrowser, context: BrowserContext) -> _Tab:
        """A tab for one page of `site` (the caller holds `tabs`): one of its own idle tabs, else a new one,
        closing the least recently used idle tab first when `max_tabs` are open (each holds a renderer)."""
        for slot in self._idle:
            if slot.site is site and slot.context is context:
                self._idle.remove(slot)
                return slot
        while self._open_tabs >= self.max_tabs and self._idle:
            oldest = self._idle.pop(0)
            self._open_tabs -= 1
            await oldest.close()
        self._open_tabs += 1
        try:
            return await _Tab.open(site, context)
        except BaseException:
            self._open_tabs -= 1
            raise

    async def give_back(self, slot: _Tab, reusable: bool) -> None:
        """After a page: the tab waits for the site's next page on a blank document (the last page's scripts
        stop), or is closed when it cannot be trusted again."""
        try:
            if reusable and not slot.tab.is_closed():
                await slot.tab.goto("about:blank", timeout=5000)
                if not slot.tab.is_closed() and slot.site in self._sites.values():
                    self._idle.append(slot)
                    return
        except Exception:
            pass  # a tab that cannot go blank is not used again
        except BaseException:  # cancelled (a site deadline, Ctrl-C): close it without waiting
            self._open_tabs -= 1
            _background(slot.close())
            raise
        self._open_tabs -= 1
        _background(slot.close())

    async def close(self) -> None:
        if self._renicer is not None:
            self._renicer.cancel()
            self._renicer = None
        for site_id in list(self._sites):
            await self.release(site_id)
        for browser in self._browsers.values():
            with contextlib.suppress(Exception):
                await browser.close()
        self._browsers.clear()
        if self._playwright is not None:
            with contextlib.suppress(Exception):
                await self._playwright.stop()
            self._playwright = None

    async def browser(self, visible: bool = False) -> Browser:
        """The scan's Chromium (headless), or the one that shows check pages; raises Unavailable with why."""
        async with self._lock:
            if self._unavailable is not None:
                raise Unavailable(self._unavailable)
            found = self._browsers.get(visible)
            if found is not None:
                return found
            try:
                browser = await self._launch(visible)
            except Unavailable as exc:
                if not visible:  # a window that cannot open still leaves the headless engine usable
                    self._unavailable = str(exc)
                raise
            self._browsers[visible] = browser
            return browser

    async def _launch(self, visible: bool) -> Browser:
        before = await asyncio.to_thread(descendants)  # only what the engine starts is reniced
        if self._playwright is None:
            try:
                # imported off the event loop: importing Playwright takes a few hundred ms of CPU, and the plain
                # sites' requests must not stall behind it
                await asyncio.to_thread(importlib.import_module, "playwright.async_api")
                from playwright.async_api import async_playwright
            except ImportError:
                raise Unavailable(
                    f"this site needs the browser engine, and Playwright is not installed ({INSTALL_HINT})"
                ) from None
        executable = self.settings.executable
        if not executable.is_file() or not os.access(executable, os.X_OK):
            raise Unavailable(
                f"this site needs the browser engine, and Chromium was not found at {executable} (install "
                "Debian's chromium package, or set EXPOSURE_CHROMIUM to a Chromium binary)"
            )
        if self._playwright is None:
            try:
                self._playwright = await async_playwright().start()
            except Exception as exc:
                raise Unavailable(f"the browser engine could not start Playwright ({_short(exc)})") from exc
            if self.settings.nice:
                # Playwright's driver first: Chromium, which it starts next, inherits its priority from the start
                self._ours = await asyncio.to_thread(descendants) - before
                await asyncio.to_thread(lower_priority, self._ours, self.settings.nice)
        args = list(LAUNCH_ARGS)
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium's sandbox refuses to start as root (containers, test machines)
        try:
            browser = await self._playwright.chromium.launch(
                executable_path=str(self.settings.executable),
                headless=not (visible and self.settings.visible),
                args=args,
                timeout=30_000,
            )
        except Exception as exc:
            raise Unavailable(f"the browser engine could not start Chromium ({_short(exc)})") from exc
        if self.settings.nice:
            self._ours |= await asyncio.to_thread(descendants) - before
            await asyncio.to_thread(lower_priority, self._ours, self.settings.nice)
            if self._renicer is None:
                self._renicer = asyncio.ensure_future(self._keep_nice())
        return browser

    async def _keep_nice(self) -> None:
        """Chromium sets some of its threads' priorities itself (run as root it even raises them), and starts
        new processes and threads all the time: every second, whatever it started is made nice again."""
        while True:
            await asyncio.sleep(1.0)
            ours = self._ours
            known = set(ours)
            self._ours = await asyncio.to_thread(_tree_of, known)
            await asyncio.to_thread(lower_priority, self._ours, self.settings.nice)

    async def new_context(self, site: BrowserSite, proxy_port: int, visible: bool = False) -> BrowserContext:
        browser = await self.browser(visible)
        context = await browser.new_context(
            proxy={"server": f"socks5://127.0.0.1:{proxy_port}", "bypass": "<-loopback>"},  # loopback too
            service_workers="block",  # a worker's requests would not show in the page's byte count
            accept_downloads=False,
            locale="en-US",
        )
        cookies = self._saved_cookies(site)
        if cookies:
            await context.add_cookies(cookies)  # type: ignore[arg-type]
        return context

    def _state_path(self, site: BrowserSite) -> Path | None:
        return self.settings.state_dir / f"{site.id}.json" if self.settings.state_dir else None

    def _saved_cookies(self, site: BrowserSite) -> list[dict[str, Any]]:
        path = self._state_path(site)
        if path is None or not path.is_file():
            return []
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []  # a damaged file only means the site starts without cookies
        cookies = data.get("cookies") if isinstance(data, dict) else None
        return [c for c in cookies if isinstance(c, dict) and _own_cookie(c, site)] if isinstance(cookies, list) else []

    async def save_cookies(self, site: BrowserSite, context: BrowserContext) -> None:
        """Keep the site's own cookies (never another site's) for the next scan, 0600."""
        path = self._state_path(site)
        if path is None:
            return
        try:
            cookies = [dict(c) for c in await context.cookies()]
        except Exception:
            return
        own = [c for c in cookies if _own_cookie(c, site)]
        write_private(path, json.dumps({"site": site.id, "cookies": own}, indent=1))


def _own_cookie(cookie: Mapping[str, Any], site: BrowserSite) -> bool:
    """Whether a cookie belongs to the site itself (never to an asset host or a check page's vendor)."""
    domain = str(cookie.get("domain", "")).lstrip(".").lower()
    if not domain:
        return False
    own = normalize_domain(site.domain)
    if ":" in own:  # a host without a public suffix, with a port: cookies know hosts, not ports
        return domain == own.rsplit(":", 1)[0]
    return url_problem(f"http://{domain}/", site.domain) is None


_BACKGROUND: set[asyncio.Future[Any]] = set()  # tasks started from Playwright's event callbacks, kept alive


def _background(awaitable: Awaitable[Any]) -> None:
    task = asyncio.ensure_future(awaitable)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


def _close_popup(tab: Tab) -> None:
    """Pop-ups (window.open, target=_blank) are closed at once: only the pages the engine opens are read."""
    _background(_quiet_close(tab))


async def _quiet_close(tab: Tab) -> None:
    with contextlib.suppress(Exception):
        await tab.close()


class _NoPlaywright(Exception):
    """Stands for Playwright's error class where Playwright is not installed (nothing raises it)."""


def _playwright_error() -> type[Exception]:
    try:
        from playwright.async_api import Error
    except ImportError:
        return _NoPlaywright
    return Error


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:200] + "…") if len(text) > 200 else text or type(exc).__name__


class _Load:
    """What one page load saw: the main document's last response, and the bytes that arrived."""

    def __init__(self, tab: Tab, cap: int) -> None:
        self.tab = tab
        self.cap = cap
        self.response: Response | None = None
        self.received = 0
        self.over = False

    def on_response(self, response: Response) -> None:
        if response.request.is_navigation_request() and response.frame == self.tab.main_frame:
            self.response = response

    def on_data(self, event: dict[str, Any]) -> None:
        self.received += int(event.get("dataLength", 0))
        if self.received > self.cap and not self.over:
            self.over = True  # closing the page stops whatever it was still loading
            _background(_quiet_close(self.tab))


class _Tab:
    """A tab kept open between the pages of one site: opening a tab costs a renderer process, and a site's
    next page in the same tab reuses it (a third less CPU per page, measured in benchmarks/browser.py)."""

    def __init__(self, site: SiteBrowser, context: BrowserContext, tab: Tab) -> None:
        self.site = site
        self.context = context
        self.tab = tab
        self.load: _Load | None = None

    @classmethod
    async def open(cls, site: SiteBrowser, context: BrowserContext) -> _Tab:
        tab = await context.new_page()
        slot = cls(site, context, tab)
        tab.on("response", slot._on_response)
        tab.on("dialog", lambda dialog: _background(dialog.dismiss()))
        tab.on("popup", _close_popup)
        cdp = await context.new_cdp_session(tab)
        cdp.on("Network.dataReceived", slot._on_data)
        await cdp.send("Network.enable")
        return slot

    def _on_response(self, response: Response) -> None:
        if self.load is not None:
            self.load.on_response(response)

    def _on_data(self, event: dict[str, Any]) -> None:
        if self.load is not None:
            self.load.on_data(event)

    async def close(self) -> None:
        await _quiet_close(self.tab)


class SiteBrowser:
    """One site's pages in the browser: a fetcher with the plain `Fetcher.get` shape."""

    def __init__(self, engine: BrowserEngine, site: BrowserSite) -> None:
        self.engine = engine
        self.site = site
        self.proxy = PinningProxy(site.allows, engine.fetch.connect_to, min(10.0, engine.fetch.timeout))
        self._context: BrowserContext | None = None
        self._contexts: list[BrowserContext] = []
        self._setup = asyncio.Lock()
        self.pages_asked = 0  # pages asked of the site in this scan, for FetchSettings.max_requests_per_site
        self._in_window = False
        self._headless: BrowserContext | None = None  # the context the site had before its window
        self._has_turn = False
        self._gave_up = False  # the person did not get through once: the site is not shown again

    async def get(
        self, url: str, domain: str, gate: SiteGate | None = None, cookies: SiteCookies | None = None
    ) -> Page:
        """Load and render a page of the site; never raises for anything the site does. `cookies` is not
        used: the site's context keeps what the site sets for as long as the site is scanned."""
        started = time.monotonic()
        problem = url_problem(url, domain)
        if problem:
            return _failed(url, Outcome.ERROR, f"not requested: {problem}", started)
        cap = self.engine.fetch.max_requests_per_site
        if self.pages_asked >= cap:  # as the plain fetcher: each page counts once (not what its scripts fetch)
            return _failed(
                url, Outcome.SKIPPED, f"not requested: this scan sends at most {cap} requests to one site", started
            )
        self.pages_asked += 1
        page = await self._get(url, gate, started)
        if self.engine.settings.interactive and page.failure is None and not self._gave_up:
            why = await asyncio.to_thread(check_page_of, page, self.site.blocked)
            if why:
                page = await self._ask_person(url, why, gate, page)
        return page

    async def _get(self, url: str, gate: SiteGate | None, started: float) -> Page:
        try:
            context = await self._current()
            if gate is None:
                async with self.engine.tabs:
                    return await self._load(context, url, started)
            async with gate, self.engine.tabs:
                return await self._load(context, url, started)
        except Unavailable as exc:
            return _failed(url, Outcome.ERROR, str(exc), started)
        except _playwright_error() as exc:  # the browser itself failed (crashed, closed): this page's failure
            return _failed(url, Outcome.ERROR, f"the browser could not open the page ({_short(exc)})", started)

    async def _current(self) -> BrowserContext:
        async with self._setup:
            if not self._has_turn:
                await self.engine.site_turns.acquire()  # held until the site is done (close)
                self._has_turn = True
            if self._context is None:
                if not self.proxy.port:
                    await self.proxy.start()
                self._context = await self.engine.new_context(self.site, self.proxy.port)
                self._contexts.append(self._context)
            return self._context

    async def _load(self, context: BrowserContext, url: str, started: float) -> Page:
        """One page: load, let its scripts finish, read the rendered document. Failures are Pages."""
        from playwright.async_api import Error as PlaywrightError

        timeout = self.engine.fetch.timeout
        refused_before = Counter(self.proxy.refused)
        loading = time.monotonic()  # the wait for a free tab is not the page's time
        slot = await self.engine.take_tab(self, context)
        load = slot.load = _Load(slot.tab, self.engine.settings.max_transfer)
        tab = slot.tab
        self.engine.pages_loaded += 1
        quiet = True
        reusable = False
        try:
            try:
                async with asyncio.timeout(timeout):
                    await tab.goto(url, wait_until="load", timeout=timeout * 1000)
                    try:
                        idle = max(1.0, timeout - _spent(loading))
                        await tab.wait_for_load_state("networkidle", timeout=idle * 1000)
                    except PlaywrightError:
                        quiet = False
                    page = await self._read(tab, load, url, started)
            except TimeoutError:
                return self._failure(
                    url, Outcome.TIMEOUT, f"the page did not load within {timeout:g} s", started, refused_before
                )
            except PlaywrightError as exc:
                if load.over:
                    return self._too_big(url, started, refused_before)
                return self._failure(url, *self._why(exc, url, refused_before), started, refused_before)
            if load.over:
                return self._too_big(url, started, refused_before)
            page = replace(page, refused=self._refused_since(refused_before))
            if not quiet and (page.failure is not None or not check_page_of(page, self.site.blocked)):
                # still loading at the deadline: what it shows now may not be its answer (a check page is)
                return self._failure(
                    url,
                    Outcome.TIMEOUT,
                    f"the page was still loading after {timeout:g} s: not read",
                    started,
                    refused_before,
                )
            reusable = True
            return page
        finally:
            slot.load = None
            await self.engine.give_back(slot, reusable)

    async def _read(self, tab: Tab, load: _Load, url: str, started: float) -> Page:
        """The page as it is now: the rendered document (or a JSON answer as sent), with the main response's
        status and headers."""
        response = load.response
        headers = {k.lower(): v for k, v in (response.headers if response is not None else {}).items()}
        content_type = headers.get("content-type", "")
        mime = content_type.split(";", 1)[0].strip().lower() or "text/html"
        if response is not None and (mime in ("application/json", "text/json") or mime.endswith("+json")):
            body = await response.body()  # a JSON answer is read as sent, not as the viewer Chromium shows
            text = decode_text(body, content_type)
        else:
            text = await _content(tab)
            body = text.encode("utf-8")
            mime = "text/html"
        cap = self.engine.fetch.max_body
        if len(body) > cap:
            return _failed(url, Outcome.ERROR, f"page larger than {cap // 1024} KiB: not read", started)
        return Page(
            url=url,
            final_url=tab.url,
            status=response.status if response is not None else None,
            headers=headers,
            body=body,
            text=text,
            content_type=mime,
            elapsed=time.monotonic() - started,
            fetched_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),  # evidence needs the time it was read
        )

    def _refused_since(self, before: Counter[str]) -> tuple[str, ...]:
        return tuple(sorted(h for h, n in self.proxy.refused.items() if n > before.get(h, 0)))

    def _failure(self, url: str, outcome: Outcome, detail: str, started: float, before: Counter[str]) -> Page:
        return _failed(url, outcome, detail, started, self._refused_since(before))

    def _too_big(self, url: str, started: float, before: Counter[str]) -> Page:
        cap = self.engine.settings.max_transfer
        return self._failure(
            url, Outcome.ERROR, f"the page and what it loads passed {cap // 1024} KiB: not read", started, before
        )

    def _why(self, exc: Exception, url: str, before: Counter[str]) -> tuple[Outcome, str]:
        """A failed load in plain words: the proxy knows whether a host was refused or unreachable."""
        message = str(exc)
        refused = self._refused_since(before)
        if "ERR_SOCKS" in message or "ERR_PROXY" in message or "ERR_TUNNEL" in message:
            if refused:
                return Outcome.ERROR, f"the page went to {refused[0]}, outside the rule's domain: refused"
            parts = urlsplit(url)
            main = host_port((parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80))
            if main in self.proxy.unreachable:
                return Outcome.ERROR, self.proxy.unreachable[main]
        for marker, words in _NET_ERRORS:
            if marker in message:
                return Outcome.ERROR, words
        if "Target page, context or browser has been closed" in message or "Target closed" in message:
            return Outcome.ERROR, "the browser closed the page before it was read"
        return Outcome.ERROR, f"the browser could not load the page ({_short(exc)})"

    async def _ask_person(self, url: str, why: str, gate: SiteGate | None, page: Page) -> Page:
        """Show the check page to the person in a window, wait for them, and read the page once they are
        through; or say why not. The site's later pages load in the window's context."""
        started = time.monotonic()
        settings = self.engine.settings
        async with self.engine.person:
            if self._gave_up:
                return page
            if self._in_window:
                # another search of this site got the person through while this one waited: try it there
                again = await self._get(url, gate, started)
                if again.failure is not None or not await asyncio.to_thread(check_page_of, again, self.site.blocked):
                    return again
            problem = no_screen() if settings.visible else None
            if problem:
                self._gave_up = True
                return _failed(url, Outcome.BLOCKED, f"blocked by {why}; {problem}", started)
            try:
                window = await self._window()
            except Unavailable as exc:
                self._gave_up = True
                return _failed(
                    url, Outcome.BLOCKED, f"blocked by {why}; the check page could not be shown ({exc})", started
                )
            problem = await self._wait_for_person(window, url, why)
            if problem:
                self._gave_up = True
                await self._leave_window(window)
                return _failed(url, Outcome.BLOCKED, f"blocked by {why}: {problem}", started)
        return await self._get(url, gate, time.monotonic())

    async def _window(self) -> BrowserContext:
        """A context in the visible browser, behind the same pin; it becomes the site's context."""
        if not self._in_window:
            context = await self.engine.new_context(self.site, self.proxy.port, visible=True)
            async with self._setup:
                # the headless context stays open until the site is done: other searches may be loading in it
                self._headless = self._context
                self._context = context
                self._contexts.append(context)
                self._in_window = True
        assert self._context is not None
        return self._context

    async def _leave_window(self, window: BrowserContext) -> None:
        """The person did not get through: the window closes, and the site's other pages load headless again
        (they meet the check page and end "blocked", without a window each)."""
        async with self._setup:
            if self._context is window:
                self._context, self._in_window = self._headless, False
            if window in self._contexts:
                self._contexts.remove(window)
        with contextlib.suppress(Exception):
            await window.close()

    async def _wait_for_person(self, context: BrowserContext, url: str, why: str) -> str | None:
        """Show the check page and wait until it is gone; None when the person got through, else why not."""
        from playwright.async_api import Error as PlaywrightError

        settings = self.engine.settings
        tab = await context.new_page()
        seen = _Load(tab, self.engine.settings.max_transfer)  # the main response's status and headers
        tab.on("response", seen.on_response)
        helper: asyncio.Future[Any] | None = None
        try:
            with contextlib.suppress(PlaywrightError):
                await tab.goto(url, wait_until="load", timeout=self.engine.fetch.timeout * 1000)
            handler = self.engine.on_challenge
            if handler is not None:
                answer = handler(CheckPage(self.site.name, url, why, settings.wait, tab))
                if answer is not None:
                    helper = asyncio.ensure_future(answer)
            deadline = time.monotonic() + settings.wait
            while time.monotonic() < deadline:
                await asyncio.sleep(POLL_SECONDS)
                if tab.is_closed():
                    return "the check page's window was closed before it was completed"
                try:
                    html = await tab.content()
                except PlaywrightError:
                    continue  # navigating: look again
                response = seen.response
                status = response.status if response is not None else None
                headers = dict(response.headers) if response is not None else {}
                shown = Page(url, tab.url, status, headers, b"", html, "text/html")
                if not await asyncio.to_thread(check_page_of, shown, self.site.blocked):
                    return None
            return f"the check page was not completed within {settings.wait:g} s"
        finally:
            if helper is not None and not helper.done():
                helper.cancel()
            await _quiet_close(tab)

    async def close(self) -> None:
        """Throw the site's context away (keeping its own cookies only when the user asked) and stop its proxy."""
        async with self._setup:
            contexts, self._contexts, self._context = self._contexts, [], None
        for context in contexts:
            if context is contexts[-1]:
                with contextlib.suppress(Exception):
                    await self.engine.save_cookies(self.site, context)
            with contextlib.suppress(Exception):
                await context.close()
        await self.proxy.close()
        self.engine.refused.update(self.proxy.refused)
        if self._has_turn:
            self._has_turn = False
            self.engine.site_turns.release()


async def _content(tab: Tab) -> str:
    """The rendered document; a page that is navigating right then is asked again, briefly."""
    from playwright.async_api import Error as PlaywrightError

    for _ in range(5):
        try:
            return await tab.content()
        except PlaywrightError:
            await asyncio.sleep(0.2)
    return await tab.content()


def _spent(started: float) -> float:
    return time.monotonic() - started


# Chromium's network errors in the words fetch.py uses for the same failures.
_NET_ERRORS = (
    ("ERR_NAME_NOT_RESOLVED", "the site's address could not be found (DNS)"),
    ("ERR_CONNECTION_REFUSED", "the connection was refused"),
    ("ERR_CONNECTION_RESET", "the site closed the connection"),
    ("ERR_EMPTY_RESPONSE", "the site closed the connection"),
    ("ERR_CONNECTION_CLOSED", "the site closed the connection"),
    ("ERR_TIMED_OUT", "the site did not answer in time"),
    ("ERR_CERT", "the site's secure connection could not be set up (TLS)"),
    ("ERR_SSL", "the site's secure connection could not be set up (TLS)"),
    ("ERR_TOO_MANY_REDIRECTS", "too many redirects"),
    ("ERR_ABORTED", "the page stopped loading (a download, or a page that is not a web page)"),
    ("ERR_INVALID_RESPONSE", "the site's answer was not valid HTTP"),
)
