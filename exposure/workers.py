"""Page analysis off the event loop, with a deadline per page, on every core.

The event loop does the network: request deadlines, the site deadline and Ctrl-C all run on it. Reading a
page (decode, parse, extract, classify, match) is CPU work on input that someone else wrote, so it runs here,
and the loop only awaits its answer for as long as the page's analysis budget allows. A page over budget, or
one whose analysis fails, is a status for that page ("could not check"), never a frozen or crashed scan.

Two backends, one interface:
- worker processes (`processes=True`), for scans big enough to keep more than one core busy: the profile and
  the rules are sent once per worker, pages go in as bytes (still compressed: decoding is analysis work too)
  and verdicts come back as plain values. The pipes are read by the event loop itself (no helper threads in
  the scanning process to compete with it for the interpreter; one thread only waits while a worker starts).
  A worker past a page's budget is killed and replaced, so even a runaway page cannot hold a core;
- daemon threads, for small scans and tests, where starting processes would cost more than it saves. The
  regexes that run on page text are linear (normalize.py, textread.py) and rule regexes run in the `regex`
  engine with a time limit and without the interpreter lock, so a thread never starves the loop.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import multiprocessing
import os
import queue
import struct
import sys
import threading
import types
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from .analyze import Analyzer, DetailReading, ResultsReading
from .classify import RuleRuntimeError
from .models import Classification, Listing, Outcome, Page

T = TypeVar("T")
ANALYSIS_BUDGET = 15.0  # seconds one page may take to read; a 5 MiB page takes well under one
# Pages fetched and not yet read before new requests wait for the readers, and their bytes (as they came, mostly
# compressed): a few big uncompressed pages hold new requests as a long line of small ones does. A longer line
# (128) kept the cores a little busier at 1,000 sites but cost 5 MB of the scan's memory for a gain within the
# machine's noise (benchmarks/README.md, sixth pass).
MAX_WAITING = 32
MAX_WAITING_BYTES = 4 * 1024 * 1024


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


def _worker_main(conn: Any, replies: Any) -> None:
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
        replies.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))


def _context() -> Any:
    """Workers start from a forkserver that has imported the analysis code once (forking the scanning process
    itself, with its threads, is unsafe; spawning each worker would import everything again)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["exposure._forkserver"])
    return ctx


@contextmanager
def _main_left_out() -> Iterator[None]:
    """Starts workers without running the scanning program's main script in them.

    multiprocessing runs the parent's `__main__` file again in every new process (as `__mp_main__`), so that
    functions defined there can be unpickled. A worker's only function lives in this module, and the main script
    is `exposure`'s command line (typer, rich, the HTTP client, Playwright) or a benchmark: every worker imported
    all of it again, which cost each one about 0.3 s of CPU and the memory of the HTTP client that the workers
    were meant never to load. With no main module in sight while a worker starts, it is asked to import none.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


class _Job:
    """One page for a worker: its message, the future its reader awaits, and the budget's timer once begun."""

    __slots__ = ("budget", "future", "message", "timer")

    def __init__(self, message: bytes, future: asyncio.Future[bytes], budget: float) -> None:
        self.message = message
        self.future = future
        self.budget = budget
        self.timer: asyncio.TimerHandle | None = None


class _Worker:
    """One analysis process and its two pipes, both served by the event loop itself (no helper threads in the
    scanning process compete with the loop for the interpreter). Pages go in through a non-blocking pipe, so
    a worker can be handed its next page while it reads the current one without the loop ever waiting for it;
    readings come back in the order the pages went in."""

    def __init__(self, ctx: Any, pool: _ProcessPool) -> None:
        jobs_in, self._jobs_out = ctx.Pipe(duplex=False)
        self._replies, replies_out = ctx.Pipe(duplex=False)
        self._child_ends = (jobs_in, replies_out)
        self.proc = ctx.Process(target=_worker_main, args=(jobs_in, replies_out), daemon=True)
        self._fd = self._jobs_out.fileno()
        self._pending = bytearray()  # framed messages not yet taken by the pipe
        self._writing = False
        self._attached = False
        self.jobs: deque[_Job] = deque()  # sent and not answered, oldest (the one being read) first
        self._pool = pool
        self._loop = asyncio.get_running_loop()

    def launch(self) -> None:
        """Starts the process. This waits for the forkserver to fork it, and the first time for the forkserver
        itself to import the analysis code (half a second or more), so the pool calls it from a thread: run on
        the event loop, it stalled a scan's first second."""
        with _main_left_out():
            self.proc.start()
        for end in self._child_ends:
            end.close()

    def attach(self, setup: bytes) -> None:
        """On the event loop, once started: the profile and rules go first, through the same non-blocking pipe
        as the pages (the worker reads them after its own start-up, which the loop need not wait for)."""
        os.set_blocking(self._fd, False)
        self._attached = True
        self._loop.add_reader(self._replies.fileno(), self._readable)
        self._put(setup)

    def send(self, job: _Job) -> None:
        """Queue a page for the worker; the pipe takes it as fast as the worker reads."""
        self.jobs.append(job)
        self._put(job.message)

    def _put(self, message: bytes) -> None:
        # multiprocessing.Connection's framing (a 4-byte big-endian length), so the worker's recv_bytes reads it
        self._pending += struct.pack("!i", len(message))
        self._pending += message
        self._flush()

    def _flush(self) -> None:
        try:
            while self._pending:
                written = os.write(self._fd, self._pending)
                del self._pending[:written]
        except BlockingIOError:
            if not self._writing:
                self._writing = True
                self._loop.add_writer(self._fd, self._flush)
            return
        except OSError:  # the process is gone
            self._pool.replace(self, EOFError("the analysis process ended"))
            return
        if self._writing:
            self._writing = False
            self._loop.remove_writer(self._fd)

    def _readable(self) -> None:
        try:
            data = self._replies.recv_bytes()
        except (EOFError, OSError):
            self._pool.replace(self, EOFError("the analysis process ended"))
            return
        self._pool.replied(self, data)

    def kill(self) -> None:
        if self._attached:
            self._attached = False
            for remove, fd in ((self._loop.remove_reader, self._replies), (self._loop.remove_writer, self._jobs_out)):
                try:
                    remove(fd.fileno())
                except (ValueError, OSError):
                    pass
        if self.proc.pid is not None:  # started
            if self.proc.is_alive():
                self.proc.kill()
            self.proc.join(1)
        for conn in (self._replies, self._jobs_out, *self._child_ends):
            conn.close()


class _ProcessPool:
    """Worker processes fed from the event loop; a worker past its page's budget is killed and replaced.

    Each worker holds up to `DEPTH` pages: the one it reads and the next, already in its pipe. Handing pages
    over one at a time, through the awaiting tasks, left the workers waiting for a loop busy with a thousand
    sites' network for as long as they worked (measured in the worker: 3.5 s waiting for 5.0 s reading)."""

    DEPTH = 2

    def __init__(self, analyzer: Analyzer, workers: int) -> None:
        self._ctx = _context()
        self._analyzer = analyzer
        self._setup: bytes | None = None  # the profile and rules, pickled once for every worker
        self._size = workers
        self._started = False
        self._closed = False
        # pages waiting for a worker: (priority, arrival, job), lowest first (see `run`)
        self._queue: list[tuple[float, int, _Job]] = []
        self._arrivals = itertools.count()
        self._all: list[_Worker] = []  # started, and handed pages
        self._launching: list[_Worker] = []
        self._launcher: ThreadPoolExecutor | None = None

    def start(self) -> None:
        """Starts the workers, without waiting for them: pages wait in line until one is up."""
        if not self._started:
            self._started = True
            for _ in range(self._size):
                self._spawn()

    def _setup_message(self) -> bytes:
        import pickle

        if self._setup is None:  # in the launcher's thread: a thousand rules take 0.06 s to pickle
            a = self._analyzer
            self._setup = pickle.dumps((a.profile, a.rules, a.today, a.max_body), protocol=pickle.HIGHEST_PROTOCOL)
        return self._setup

    def _spawn(self) -> None:
        """A new worker, started in a thread of its own (`_Worker.launch`); it takes pages once `_launched`."""
        worker = _Worker(self._ctx, self)
        self._launching.append(worker)
        if self._launcher is None:
            self._launcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analysis-start")

        def launch() -> bytes:
            worker.launch()
            return self._setup_message()

        started = asyncio.wrap_future(self._launcher.submit(launch))
        started.add_done_callback(lambda done: self._launched(worker, done))

    def _launched(self, worker: _Worker, done: asyncio.Future[bytes]) -> None:
        if worker in self._launching:
            self._launching.remove(worker)
        error = None if done.cancelled() else done.exception()
        if self._closed or done.cancelled() or error is not None:
            worker.kill()
            if error is not None and not self._all and not self._launching:
                # no worker could start: the pages waiting fail with why, and the next page tries again
                for _, _, job in self._queue:
                    if not job.future.done():
                        job.future.set_exception(error)
                self._queue.clear()
                self._started = False
            return
        worker.attach(done.result())
        self._all.append(worker)
        self._feed()

    async def run(self, kind: str, args: tuple[Any, ...], budget: float, priority: float = 0) -> Any:
        """A page's reading. Pages wait for a worker lowest `priority` first, equal ones in arrival order: the
        scan gives the pages of the sites with the most requests left the front of the line, as the request
        slots do (fetch._Slots), since reading a page is what tells such a site its next requests."""
        import pickle

        self.start()
        message = pickle.dumps((kind, args), protocol=pickle.HIGHEST_PROTOCOL)
        job = _Job(message, asyncio.get_running_loop().create_future(), budget)
        heapq.heappush(self._queue, (priority, next(self._arrivals), job))
        self._feed()
        # cancelled while waiting (a site deadline, Ctrl-C): a page not yet sent is skipped when its turn comes,
        # one already sent is let finish (its budget still holds) and its reading dropped
        data = await job.future
        status, value = pickle.loads(data)
        if status == "rule":
            raise RuleRuntimeError(value)
        if status == "error":
            raise _PageError(value)
        return value

    def _feed(self) -> None:
        # every worker gets a page before any gets a second one
        for depth in range(1, self.DEPTH + 1):
            for worker in list(self._all):
                while len(worker.jobs) < depth and self._queue:
                    job = heapq.heappop(self._queue)[2]
                    if job.future.done():  # its reader gave up while it waited
                        continue
                    if not worker.jobs:
                        self._begin(worker, job)
                    worker.send(job)
                    if worker not in self._all:  # the send found the process gone
                        return

    def _begin(self, worker: _Worker, job: _Job) -> None:
        """The worker starts on `job` (the oldest page it holds): its budget runs from now."""
        job.timer = asyncio.get_running_loop().call_later(job.budget, self._overdue, worker, job)

    def replied(self, worker: _Worker, data: bytes) -> None:
        if not worker.jobs:
            return
        job = worker.jobs.popleft()
        if job.timer is not None:
            job.timer.cancel()
        if not job.future.done():
            job.future.set_result(data)
        if worker.jobs:
            self._begin(worker, worker.jobs[0])
        self._feed()

    def _overdue(self, worker: _Worker, job: _Job) -> None:
        if worker.jobs and worker.jobs[0] is job:
            self.replace(worker, TimeoutError())

    def replace(self, worker: _Worker, error: BaseException) -> None:
        """A worker past its page's budget, or dead: the page it was reading fails with `error`, the pages
        queued behind it go back to the front of the line, and a new process takes its place."""
        if worker not in self._all:
            return
        self._all.remove(worker)
        worker.kill()
        jobs = list(worker.jobs)
        worker.jobs.clear()
        for job in jobs:
            if job.timer is not None:
                job.timer.cancel()
                job.timer = None
        if jobs and not jobs[0].future.done():
            jobs[0].future.set_exception(error)
        for job in jobs[1:]:  # back to the front of the line, in the order they were sent
            heapq.heappush(self._queue, (-math.inf, next(self._arrivals), job))
        if not self._closed:
            self._spawn()
        self._feed()

    def close(self) -> None:
        self._closed = True
        if self._launcher is not None:
            self._launcher.shutdown(wait=True)  # a worker still starting is let start, then killed with the rest
        for worker in (*self._all, *self._launching):
            worker.kill()
        self._all.clear()
        self._launching.clear()
        for _, _, job in self._queue:
            job.future.cancel()
        self._queue.clear()


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
        max_waiting_bytes: int = MAX_WAITING_BYTES,
    ) -> None:
        self.analyzer = analyzer
        self.budget = budget
        self.processes = processes
        # pages handed over and not yet read: when the cores fall behind the network, new requests wait
        # (`room`) instead of piling fetched pages up in memory (a thousand sites held 70 MB of them)
        self.max_waiting = max_waiting
        self.max_waiting_bytes = max_waiting_bytes
        self._waiting = 0
        self._waiting_bytes = 0
        # requests waiting for room, oldest first: let go a few at a time (`_let_in`), never all at once
        self._for_room: deque[asyncio.Future[None]] = deque()
        self._executor: DaemonThreadExecutor | None = None
        self._pool: _ProcessPool | None = _ProcessPool(analyzer, workers) if processes else None
        if not processes:
            self._executor = DaemonThreadExecutor(workers)

    def start(self) -> None:
        """Starts the worker processes now, while a scan's first requests are out, rather than when its first
        page arrives (the first pages would wait for them). Threads need no start."""
        if self._pool is not None:
            self._pool.start()

    def _room_left(self) -> int:
        """How many more requests may go on now. With no page left to read, all of them: no later reading
        would let them in."""
        if not self._waiting:
            return max(1, len(self._for_room))
        if self._waiting_bytes >= self.max_waiting_bytes:
            return 0
        return self.max_waiting - self._waiting

    async def room(self) -> None:
        """Returns once fewer than `max_waiting` pages, and fewer than `max_waiting_bytes` of them, wait to be
        read: the fetcher asks before each request."""
        if self._room_left() > 0 and not self._for_room:
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._for_room.append(turn)
        if self._room_left() > 0:
            self._let_in()  # room already: the oldest still waiting go first (those given up are passed over)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # let in just as it was cancelled: its place goes on
                self._let_in()
            raise

    def _let_in(self) -> None:
        """As many waiting requests go on as there is room for now, oldest first. Waking every waiting request
        whenever there was room again (an Event) sent a scan's whole request limit at once, 125 requests in one
        pass of the loop (50-80 ms), and their pages came back as one burst, over the limit again."""
        room = self._room_left()
        while room > 0 and self._for_room:
            turn = self._for_room.popleft()
            if not turn.done():
                turn.set_result(None)
                room -= 1

    async def _run(
        self, kind: str, fn: Callable[..., T], page: Page, *args: Any, priority: float = 0
    ) -> T | Classification:
        size = len(page.body)
        self._waiting += 1
        self._waiting_bytes += size
        try:
            return await self._run_now(kind, fn, page, *args, priority=priority)
        finally:
            self._waiting -= 1
            self._waiting_bytes -= size
            self._let_in()

    async def _run_now(self, kind: str, fn: Callable[..., T], *args: Any, priority: float = 0) -> T | Classification:
        try:
            if self._pool is not None:
                result: T = await self._pool.run(kind, args, self.budget, priority)
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

    async def results(self, page: Page, rule_id: str, found_by: str, priority: float = 0) -> ResultsReading:
        """A results page's reading; with worker processes, lower `priority` is read first."""
        out = await self._run("results", self.analyzer.results, page, rule_id, found_by, priority=priority)
        if isinstance(out, Classification):
            return ResultsReading(Classification(out.outcome, f"rule {rule_id}: {out.detail}", out.raw))
        return out

    async def detail(
        self, page: Page, rule_id: str, listing: Listing, priority: float = 0
    ) -> DetailReading | Classification:
        out = await self._run("detail", self.analyzer.detail, page, rule_id, listing, priority=priority)
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
