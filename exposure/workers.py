"""Page analysis off the event loop, with a deadline per page, on every core.

The event loop does the network: request deadlines, the site deadline and Ctrl-C all run on it. Reading a
page (decode, parse, extract, classify, match) is CPU work on input that someone else wrote, so it runs here,
and the loop only awaits its answer for as long as the page's analysis budget allows. A page over budget, or
one whose analysis fails, is a status for that page ("could not check"), never a frozen or crashed scan.

Two backends, one interface:
- worker processes (`processes=True`), for scans big enough to keep more than one core busy: the profile and
  the rules are sent once per worker, pages go in as bytes (still compressed: decoding is analysis work too)
  and verdicts come back as plain values. A worker past a page's budget is killed and replaced, so even a
  runaway page cannot hold a core (pebble's ProcessPool);
- daemon threads, for small scans and tests, where starting processes would cost more than it saves. The
  regexes that run on page text are linear (normalize.py, textread.py) and rule regexes run in the `regex`
  engine with a time limit and without the interpreter lock, so a thread never starves the loop.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future
from datetime import date
from typing import Any, TypeVar

from .analyze import Analyzer, DetailReading, ResultsReading
from .classify import RuleRuntimeError
from .models import Classification, Listing, Outcome, Page
from .profile import Profile
from .rules import Rule

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


# The analyzer of a worker process, built once from what the pool's initializer was given.
_WORKER: Analyzer | None = None


def _init_worker(profile: Profile, rules: Mapping[str, Rule], today: date | None, max_body: int) -> None:
    global _WORKER
    _WORKER = Analyzer(profile, dict(rules), today, max_body)


def _results_task(page: Page, rule_id: str, found_by: str) -> ResultsReading:
    assert _WORKER is not None
    return _WORKER.results(page, rule_id, found_by)


def _detail_task(page: Page, rule_id: str, listing: Listing) -> DetailReading:
    assert _WORKER is not None
    return _WORKER.detail(page, rule_id, listing)


def _context() -> Any:
    """Workers start from a forkserver that has imported the analysis code once (forking the scanning process
    itself, with its threads, is unsafe; spawning each worker would import everything again)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["exposure.workers"])
    return ctx


class AnalysisPool:
    """Runs an `Analyzer` off the event loop; every call answers within the budget."""

    def __init__(
        self, analyzer: Analyzer, workers: int = 2, budget: float = ANALYSIS_BUDGET, processes: bool = False
    ) -> None:
        self.analyzer = analyzer
        self.budget = budget
        self.processes = processes
        self._executor: DaemonThreadExecutor | None = None
        self._pool: Any = None
        if processes:
            import pebble

            a = analyzer
            self._pool = pebble.ProcessPool(
                max_workers=workers,
                initializer=_init_worker,
                initargs=(a.profile, a.rules, a.today, a.max_body),
                context=_context(),
            )
        else:
            self._executor = DaemonThreadExecutor(workers)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T | Classification:
        try:
            if self._pool is not None:
                future = self._pool.schedule(fn, args=args, timeout=self.budget)
                try:
                    return await asyncio.wrap_future(future)
                except asyncio.CancelledError:
                    future.cancel()  # a cancelled site: its page's worker is stopped too
                    raise
            assert self._executor is not None
            task = asyncio.get_running_loop().run_in_executor(self._executor, lambda: fn(*args))
            return await asyncio.wait_for(task, self.budget)
        except TimeoutError:
            return Classification(Outcome.ERROR, f"reading the page took longer than {self.budget:g} s: not read")
        except RuleRuntimeError as exc:
            return Classification(Outcome.ERROR, str(exc))
        except Exception as exc:  # a page that breaks the reader is that page's failure, never the scan's
            return Classification(Outcome.ERROR, f"the page could not be read ({type(exc).__name__}: {exc})"[:300])

    async def results(self, page: Page, rule_id: str, found_by: str) -> ResultsReading:
        fn = _results_task if self._pool is not None else self.analyzer.results
        out = await self._run(fn, page, rule_id, found_by)
        if isinstance(out, Classification):
            return ResultsReading(Classification(out.outcome, f"rule {rule_id}: {out.detail}"))
        return out

    async def detail(self, page: Page, rule_id: str, listing: Listing) -> DetailReading | Classification:
        fn = _detail_task if self._pool is not None else self.analyzer.detail
        out = await self._run(fn, page, rule_id, listing)
        if isinstance(out, Classification):
            return Classification(out.outcome, f"rule {rule_id}: {out.detail}")
        return out

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
        if self._pool is not None:
            self._pool.stop()  # workers still reading are terminated: the scan is over
            self._pool.join(timeout=2)


def default_workers() -> int:
    """One worker per core the process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
