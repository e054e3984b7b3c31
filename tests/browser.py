"""A small Playwright harness: Debian's headless Chromium, a fresh profile, and a record of everything
a page did (requests, console errors, uncaught exceptions, dialogs).

Why Debian's chromium and not `playwright install`: the tests download nothing but distribution
packages (`scripts/ensure-chromium.sh`). If the browser is missing and cannot be installed, the
tests that need it fail with the reason; they are never skipped, because a skipped browser test
would let an XSS through silently.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Dialog, Page, Request, Route, sync_playwright

from exposure.chromium import DEFAULT_CHROMIUM, LAUNCH_ARGS

CHROMIUM = DEFAULT_CHROMIUM  # the one scripts/ensure-chromium.sh installs
ENSURE = Path(__file__).resolve().parent.parent / "scripts" / "ensure-chromium.sh"


def ensure_chromium() -> Path:
    """Chromium's path, installing Debian's package first if it is missing; fails the test if impossible."""
    if not CHROMIUM.exists():
        done = subprocess.run(["sh", str(ENSURE)], capture_output=True, text=True, timeout=900, check=False)
        if done.returncode != 0 or not CHROMIUM.exists():
            pytest.fail(
                f"{CHROMIUM} is missing and {ENSURE.name} could not install it "
                f"(exit {done.returncode}):\n{done.stderr[-2000:]}",
                pytrace=False,
            )
    return CHROMIUM


@dataclass
class Recorder:
    """What one page did. `requests` holds every URL the page asked for, allowed or not."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("dialog", self._dialog)

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type in ("error", "warning"):
            self.console_errors.append(f"{msg.type}: {msg.text}")

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def clear(self) -> None:
        self.requests.clear()
        self.console_errors.clear()
        self.page_errors.clear()
        self.dialogs.clear()


class Browser:
    """One Chromium with a throwaway profile. Every request is recorded; only file:// ones may proceed,
    so a report that tried to reach the network could not, and the test would still see it try."""

    def __init__(self, context: BrowserContext, allow: tuple[str, ...] = ()) -> None:
        self.context = context
        self.allow = allow  # URL prefixes that may load too (a test's own server on 127.0.0.1)
        self.recorder = Recorder()
        context.route("**/*", self._route)
        context.on("request", self._request)

    def _request(self, request: Request) -> None:
        self.recorder.requests.append(request.url)

    def _route(self, route: Route) -> None:
        if route.request.url.startswith(("file://", *self.allow)):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    def open(self, path: Path, *, width: int = 1280, height: int = 900, init_script: str = "") -> Page:
        """A new tab showing the file at `path`, with its recorder attached before anything loads."""
        page = self.context.new_page()
        page.set_viewport_size({"width": width, "height": height})
        if init_script:
            page.add_init_script(init_script)
        self.recorder.attach(page)
        page.goto(path.resolve().as_uri(), wait_until="load")
        return page


@contextmanager
def chromium(allow: tuple[str, ...] = ()) -> Iterator[Browser]:
    """A headless Debian Chromium with a fresh user-data dir, removed afterwards."""
    executable = ensure_chromium()
    profile = tempfile.mkdtemp(prefix="exposure-chromium-")
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile,
                executable_path=str(executable),
                headless=True,
                args=list(LAUNCH_ARGS),
                offline=not allow,  # a test that allows its own server needs the network stack
                service_workers="block",
            )
            try:
                yield Browser(context, allow)
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
