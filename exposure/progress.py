"""What a person sees while a scan runs: a live line on a terminal, one line per finished site elsewhere.

On a terminal, a bar with finished/total and the sites still running (every site of a scan runs at the
same time, each at its own polite pace), redrawn in place. When stderr is a file or a pipe (CI, `2> log`),
redrawing would fill the log with control codes, so each finished site gets one plain line instead.
`--verbose` adds every request of each finished site; `--quiet` shows nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .models import SiteResult, Status


class Verbosity(IntEnum):
    QUIET = -1
    NORMAL = 0
    VERBOSE = 1


def site_line(s: SiteResult) -> str:
    """A finished site in a few words: "listed (2)", "not listed", "could not check: blocked by Cloudflare"."""
    if s.status is Status.FOUND:
        return f"listed ({len(s.user_listings)})"
    if s.status is Status.NOT_FOUND:
        return "not listed"
    return f"could not check: {s.detail}" if s.detail else "could not check"


def running_text(names: Sequence[str], shown: int = 3) -> str:
    """The sites still running, as a person reads them: "now: A, B, C and 12 more"."""
    if not names:
        return ""
    head = ", ".join(names[:shown])
    more = len(names) - shown
    return f"now: {head}" + (f" and {more} more" if more > 0 else "")


class ScanProgress:
    """Shows a scan's progress on `console` (stderr); call `site_done` for each finished site."""

    def __init__(self, console: Console, names: Sequence[str], verbosity: Verbosity, live: bool | None = None) -> None:
        self.console = console
        self.verbosity = verbosity
        self.total = len(names)
        self.running = list(names)
        self.done = 0
        self.live = console.is_terminal if live is None else live
        self._bar: Progress | None = None
        if verbosity is not Verbosity.QUIET and self.live:
            self._bar = Progress(
                TextColumn("[bold]Scanning[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("sites"),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=console,
                transient=True,
            )
            self._task = self._bar.add_task(running_text(self.running), total=self.total)

    def __enter__(self) -> ScanProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def site_done(self, s: SiteResult) -> None:
        name = s.site.name or s.site.id
        if name in self.running:
            self.running.remove(name)
        self.done += 1
        if self.verbosity is Verbosity.QUIET:
            return
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=running_text(self.running))
        if self._bar is None or self.verbosity is Verbosity.VERBOSE:
            width = len(str(self.total))
            self.console.print(
                f"[{self.done:>{width}}/{self.total}] {name}: {site_line(s)}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        if self.verbosity is Verbosity.VERBOSE:
            for q in s.queries:
                status = f" (HTTP {q.http_status})" if q.http_status else ""
                detail = f": {q.detail}" if q.detail else ""
                self.console.print(
                    f"    {q.query.label}: {q.outcome.value}{status}{detail}",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )

    def note(self, text: str) -> None:
        """A message that must be seen even in the middle of the bar (printed above it)."""
        if self.verbosity is not Verbosity.QUIET:
            self.console.print(text, highlight=False)
