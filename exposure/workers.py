"""Page analysis off the event loop, with a deadline per page.

The event loop does the network: request deadlines, the site deadline and Ctrl-C all run on it. Reading a
page (parse, extract, classify, match) is CPU work on input that someone else wrote, so it runs here, in
worker threads, and the loop only awaits its answer for as long as the page's analysis budget allows. A page
over budget, or one whose analysis fails, is a status for that page ("could not check"), never a frozen or
crashed scan.

Threads are daemons: a page still being read when the user presses Ctrl-C must not hold the process open.
The regexes that run on page text are linear (see normalize.py, textread.py) and rule regexes run in the
`regex` engine with a time limit and without the interpreter lock, so a worker never starves the loop.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from .analyze import Analyzer, DetailReading, ResultsReading
from .classify import RuleRuntimeError
from .models import Classification, Listing, Outcome, Page

T = TypeVar("T")
ANALYSIS_BUDGET = 15.0  # seconds one page may take to read; a 5 MiB page takes well under one


class DaemonThreadExecutor(Executor):
    """A small executor whose threads never keep the interpreter alive at exit."""

    def __init__(self, workers: int) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, daemon=True, name=f"analysis-{i}") for i in range(workers)]
        for t in self._threads:
            t.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, fn = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed back to the awaiting side, which decides
                future.set_exception(exc)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        self._jobs.put((future, lambda: fn(*args, **kwargs)))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        for _ in self._threads:
            self._jobs.put(None)


class AnalysisPool:
    """Runs an `Analyzer` off the event loop; every call answers within the budget."""

    def __init__(self, analyzer: Analyzer, workers: int = 2, budget: float = ANALYSIS_BUDGET) -> None:
        self.analyzer = analyzer
        self.budget = budget
        self._executor = DaemonThreadExecutor(workers)

    async def _run(self, fn: Callable[[], T]) -> T | Classification:
        future = asyncio.get_running_loop().run_in_executor(self._executor, fn)
        try:
            return await asyncio.wait_for(future, self.budget)
        except TimeoutError:
            return Classification(Outcome.ERROR, f"reading the page took longer than {self.budget:g} s: not read")
        except RuleRuntimeError as exc:
            return Classification(Outcome.ERROR, str(exc))
        except Exception as exc:  # a page that breaks the reader is that page's failure, never the scan's
            # people read the detail: plain words; the exception's class goes to the JSON's raw_detail only
            message = " ".join(str(exc).split())[:200]
            return Classification(
                Outcome.ERROR,
                "the page could not be read (a bug in exposure or in the rule" + (f": {message})" if message else ")"),
                raw=f"{type(exc).__name__}: {message}",
            )

    async def results(self, page: Page, rule_id: str, found_by: str) -> ResultsReading:
        out = await self._run(lambda: self.analyzer.results(page, rule_id, found_by))
        if isinstance(out, Classification):
            return ResultsReading(Classification(out.outcome, f"rule {rule_id}: {out.detail}", out.raw))
        return out

    async def detail(self, page: Page, rule_id: str, listing: Listing) -> DetailReading | Classification:
        out = await self._run(lambda: self.analyzer.detail(page, rule_id, listing))
        if isinstance(out, Classification):
            return Classification(out.outcome, f"rule {rule_id}: {out.detail}", out.raw)
        return out

    def close(self) -> None:
        self._executor.shutdown(wait=False)
