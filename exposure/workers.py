"""Page analysis off the event loop, with a deadline per page, on every core.

The event loop does the network: request deadlines, the site deadline and Ctrl-C all run on it. Reading a
page (decode, parse, extract, classify, match) is CPU work on input that someone else wrote, so it runs here,
and the loop only awaits its answer for as long as the page's analysis budget allows. A page over budget, or
one whose analysis fails, is a status for that page ("could not check"), never a frozen or crashed scan.

Two backends, one interface:
- worker processes (`processes=True`), for scans big enough to keep more than one core busy: the profile and
  the rules are sent once per worker, pages go in as bytes (still compressed: decoding is analysis work too)
  and verdicts come back as plain values. The pipes are read by the event loop itself (no helper threads in
  the scanning process to compete with it for the interpreter). A worker past a page's budget is killed and
  replaced, so even a runaway page cannot hold a core;
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
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from .analyze import Analyzer, DetailReading, ResultsReading
from .classify import RuleRuntimeError
from .models import Classification, Listing, Outcome, Page

T = TypeVar("T")
ANALYSIS_BUDGET = 15.0  # seconds one page may take to read; a 5 MiB page takes well under one
MAX_WAITING = 32  # pages fetched and not yet read before new requests wait for the readers


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


def _worker_main(conn: Any) -> None:
    """A worker process: an Analyzer built from the first message, then one page in, one reading out."""
    import gc
    import pickle

    profile, rules, today, max_body = pickle.loads(conn.recv_bytes())
    analyzer = Analyzer(profile, dict(rules), today, max_body)
    # a page's reading makes many short-lived objects; what the worker keeps (rules, profile, caches) is set
    # aside so the collector's passes stay cheap (see pipeline._few_collections)
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)
    while True:
        try:
            kind, args = pickle.loads(conn.recv_bytes())
        except EOFError:
            return
        try:
            fn = analyzer.results if kind == "results" else analyzer.detail
            reply: tuple[str, Any] = ("ok", fn(*args))
        except RuleRuntimeError as exc:
            reply = ("rule", str(exc))
        except Exception as exc:  # the page's failure, reported back; the worker goes on
            reply = ("error", f"{type(exc).__name__}: {exc}"[:300])
        conn.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))


def _context() -> Any:
    """Workers start from a forkserver that has imported the analysis code once (forking the scanning process
    itself, with its threads, is unsafe; spawning each worker would import everything again)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["exposure._forkserver"])
    return ctx


class _Worker:
    """One analysis process and the pipe to it, read from the event loop itself: no helper threads in the
    scanning process compete with the loop for the interpreter."""

    def __init__(self, ctx: Any, setup: bytes) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child,), daemon=True)
        self.proc.start()
        child.close()
        self.conn.send_bytes(setup)
        self._reply: asyncio.Future[bytes] | None = None
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.conn.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            data = self.conn.recv_bytes()
        except (EOFError, OSError):
            self._loop.remove_reader(self.conn.fileno())
            if self._reply is not None and not self._reply.done():
                self._reply.set_exception(EOFError("the analysis process ended"))
            return
        if self._reply is not None and not self._reply.done():
            self._reply.set_result(data)

    async def run(self, message: bytes) -> bytes:
        self._reply = self._loop.create_future()
        self.conn.send_bytes(message)
        return await self._reply

    def kill(self) -> None:
        try:
            self._loop.remove_reader(self.conn.fileno())
        except (ValueError, OSError):
            pass
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(1)
        self.conn.close()


class _ProcessPool:
    """Worker processes fed from the event loop; a worker past its page's budget is killed and replaced."""

    def __init__(self, analyzer: Analyzer, workers: int) -> None:
        import pickle

        self._ctx = _context()
        a = analyzer
        self._setup = pickle.dumps((a.profile, a.rules, a.today, a.max_body), protocol=pickle.HIGHEST_PROTOCOL)
        self._size = workers
        self._idle: asyncio.Queue[_Worker] | None = None
        self._all: list[_Worker] = []

    def _spawn(self) -> _Worker:
        worker = _Worker(self._ctx, self._setup)
        self._all.append(worker)
        return worker

    async def run(self, kind: str, args: tuple[Any, ...], budget: float) -> Any:
        import pickle

        if self._idle is None:
            self._idle = asyncio.Queue()
            for _ in range(self._size):
                self._idle.put_nowait(self._spawn())
        worker = await self._idle.get()
        healthy = False
        try:
            async with asyncio.timeout(budget):  # no task of its own, unlike wait_for
                data = await worker.run(pickle.dumps((kind, args), protocol=pickle.HIGHEST_PROTOCOL))
            healthy = True
        finally:
            if healthy:
                self._idle.put_nowait(worker)
            else:  # past its budget, cancelled, or dead: a new process takes its place
                worker.kill()
                self._all.remove(worker)
                self._idle.put_nowait(self._spawn())
        status, value = pickle.loads(data)
        if status == "rule":
            raise RuleRuntimeError(value)
        if status == "error":
            raise _PageError(value)
        return value

    def close(self) -> None:
        for worker in self._all:
            worker.kill()
        self._all.clear()


class _PageError(Exception):
    """A page broke the reader in a worker process."""


class AnalysisPool:
    """Runs an `Analyzer` off the event loop; every call answers within the budget."""

    def __init__(
        self,
        analyzer: Analyzer,
        workers: int = 2,
        budget: float = ANALYSIS_BUDGET,
        processes: bool = False,
        max_waiting: int = MAX_WAITING,
    ) -> None:
        self.analyzer = analyzer
        self.budget = budget
        self.processes = processes
        # pages handed over and not yet read: when the cores fall behind the network, new requests wait
        # (`room`) instead of piling fetched pages up in memory (a thousand sites held 70 MB of them)
        self.max_waiting = max_waiting
        self._waiting = 0
        self._has_room = asyncio.Event()
        self._executor: DaemonThreadExecutor | None = None
        self._pool: _ProcessPool | None = _ProcessPool(analyzer, workers) if processes else None
        if not processes:
            self._executor = DaemonThreadExecutor(workers)

    async def room(self) -> None:
        """Returns once fewer than `max_waiting` pages wait to be read: the fetcher asks before each request."""
        while self._waiting >= self.max_waiting:
            self._has_room.clear()
            await self._has_room.wait()

    async def _run(self, kind: str, fn: Callable[..., T], *args: Any) -> T | Classification:
        self._waiting += 1
        try:
            return await self._run_now(kind, fn, *args)
        finally:
            self._waiting -= 1
            if self._waiting < self.max_waiting:
                self._has_room.set()

    async def _run_now(self, kind: str, fn: Callable[..., T], *args: Any) -> T | Classification:
        try:
            if self._pool is not None:
                result: T = await self._pool.run(kind, args, self.budget)
                return result
            assert self._executor is not None
            task = asyncio.get_running_loop().run_in_executor(self._executor, lambda: fn(*args))
            return await asyncio.wait_for(task, self.budget)
        except TimeoutError:
            return Classification(Outcome.ERROR, f"reading the page took longer than {self.budget:g} s: not read")
        except RuleRuntimeError as exc:
            return Classification(Outcome.ERROR, str(exc))
        except _PageError as exc:
            return Classification(Outcome.ERROR, f"the page could not be read ({exc})")
        except Exception as exc:  # a page that breaks the reader is that page's failure, never the scan's
            # people read the detail: plain words; the exception's class goes to the JSON's raw_detail only
            message = " ".join(str(exc).split())[:200]
            return Classification(
                Outcome.ERROR,
                "the page could not be read (a bug in exposure or in the rule" + (f": {message})" if message else ")"),
                raw=f"{type(exc).__name__}: {message}",
            )

    async def results(self, page: Page, rule_id: str, found_by: str) -> ResultsReading:
        out = await self._run("results", self.analyzer.results, page, rule_id, found_by)
        if isinstance(out, Classification):
            return ResultsReading(Classification(out.outcome, f"rule {rule_id}: {out.detail}", out.raw))
        return out

    async def detail(self, page: Page, rule_id: str, listing: Listing) -> DetailReading | Classification:
        out = await self._run("detail", self.analyzer.detail, page, rule_id, listing)
        if isinstance(out, Classification):
            return Classification(out.outcome, f"rule {rule_id}: {out.detail}", out.raw)
        return out

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
        if self._pool is not None:
            self._pool.close()


def default_workers() -> int:
    """One worker per core the process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
