"""The demo web: synthetic people-search sites on loopback ports, and the rules that scan them.

`exposure demo` starts a `DemoWeb`, renders the bundled rule templates for the ports it got
(`render_rules`), and scans the sites for the person in `profile.toml`. Every site listens on its
own 127.0.0.1 port, so each one is its own site for the rule domain check, and nothing ever leaves
the machine. `python -m exposure.demo.server` serves the sites until Ctrl-C, for writing rules by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from aiohttp import web

from ..files import private_folder, write_private
from .apps import SITE_APPS

HERE = Path(__file__).resolve().parent
DEMO_PROFILE: Path = HERE / "profile.toml"
RULE_TEMPLATES: Path = HERE / "rules"

# @BASE@ / @HOST@ are the rule's own site; @BASE:other-id@ / @HOST:other-id@ name a sister site.
_PLACEHOLDER = re.compile(r"@(BASE|HOST)(?::([a-z0-9][a-z0-9._-]*))?@")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class DemoWeb:
    """Synthetic people-search sites, each on its own 127.0.0.1 port (so each is its own site for the domain check)."""

    def __init__(self) -> None:
        self.bases: dict[str, str] = {}  # site id -> "http://127.0.0.1:PORT" (filled by start)
        self._runners: list[web.AppRunner] = []

    async def start(self, host: str = "127.0.0.1") -> None:
        """Start every site on a free port of `host`, which must be a loopback address."""
        if not _is_loopback(host):
            raise ValueError(f"the demo web only listens on loopback, not {host!r}")
        if self._runners:
            raise RuntimeError("the demo web is already running")
        try:
            for site_id, make_app in SITE_APPS.items():
                # shutdown_timeout: a demo has nothing worth waiting a minute for on close
                runner = web.AppRunner(make_app(), access_log=None, shutdown_timeout=1.0)
                await runner.setup()
                self._runners.append(runner)
                await web.TCPSite(runner, host, 0).start()
                bound_host, port = runner.addresses[0][:2]
                shown = f"[{bound_host}]" if ":" in bound_host else bound_host
                self.bases[site_id] = f"http://{shown}:{port}"
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Stop every site; safe to call twice."""
        runners, self._runners = self._runners, []
        for runner in reversed(runners):
            await runner.cleanup()
        self.bases = {}

    async def __aenter__(self) -> DemoWeb:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class DemoWebThread:
    """The demo web in a background thread with its own event loop, for synchronous callers and tests.

    Use it as a context manager: `with DemoWebThread() as demo: httpx.get(demo.bases[site_id] + "/")`.
    """

    def __init__(self, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self._host = host
        self._timeout = timeout
        self._web = DemoWeb()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def bases(self) -> dict[str, str]:
        return self._web.bases

    def __enter__(self) -> DemoWebThread:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="exposure-demo-web", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._web.start(self._host), self._loop).result(self._timeout)
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop()

    def _stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._web.close(), loop).result(self._timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(self._timeout)
            loop.close()
            self._loop = self._thread = None


def render_rules(dest: Path, bases: Mapping[str, str]) -> Path:
    """Write concrete rule files for the running demo into dest (folder made 0700 if missing, files 0600).

    Each template `rules/<site-id>.toml` gets its own site's base URL for @BASE@ and host:port for
    @HOST@; @BASE:<id>@ and @HOST:<id>@ point at a sister site. A template whose site (or a sister it
    names) has no base is an error rather than a silently missing rule, since the demo report would
    then be quietly incomplete.
    """

    def fill(text: str, site_id: str, template: Path) -> str:
        def sub(m: re.Match[str]) -> str:
            target = m.group(2) or site_id
            if target not in bases:
                raise ValueError(f"{template}: {m.group(0)} names {target!r}, which is not running")
            base = bases[target].rstrip("/")
            return base if m.group(1) == "BASE" else urlsplit(base).netloc

        return _PLACEHOLDER.sub(sub, text)

    private_folder(dest)
    for template in sorted(RULE_TEMPLATES.glob("*.toml")):
        write_private(dest / template.name, fill(template.read_text(encoding="utf-8"), template.stem, template))
    return dest


def main() -> None:
    """Serve the demo web until interrupted, printing each site's address."""

    async def serve() -> None:
        async with DemoWeb() as demo:
            for site_id, base in demo.bases.items():
                print(f"{site_id:24} {base}/")
            print("Ctrl-C to stop.")
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
