"""Page analysis in worker processes: the same verdicts as in threads, pages in compressed, and a page past its
budget is that page's failure, with its worker replaced, never a stuck scan."""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import fast_options, run_scan
from servers import Canned, LocalServer
from test_drift import OLD_RULE, card, page

from exposure.analyze import Analyzer, ResultsReading
from exposure.fetch import _Slots
from exposure.models import Classification, Outcome, Page, Status
from exposure.profile import Profile
from exposure.rules import load_rule
from exposure.workers import AnalysisPool

JANE = card("Jane M Testwood", '<div class="subtitle">Age 47 • Springfield, IL</div>')
NOBODY = "<div id='no-results'>No records match your search.</div>"


def rules_for(tmp_path: Path, servers: list[LocalServer]) -> list:  # type: ignore[type-arg]
    import textwrap

    out = []
    for i, server in enumerate(servers):
        host = server.base.removeprefix("http://")
        text = OLD_RULE.format(
            id=f"s{i}", host=host, base=server.base, expect='["age"]', extra="", location="span.location"
        )
        path = tmp_path / f"s{i}.toml"
        path.write_text(textwrap.dedent(text))
        out.append(load_rule(path))
    return out


def one_worker_and_an_empty_page(tmp_path: Path, profile: Profile) -> tuple[Any, str, Page, AnalysisPool]:
    """A rule, a no-results page of its site, and a pool of one worker process for that rule."""
    with LocalServer(fallback=Canned(page(NOBODY))) as server:
        rule = rules_for(tmp_path, [server])[0]
    url = f"{server.base}/name/jane-testwood"
    text = page(NOBODY)
    empty = Page(url, url, 200, {"content-type": "text/html"}, text.encode(), text, "text/html")
    return rule, url, empty, AnalysisPool(Analyzer(profile, {rule.id: rule}), workers=1, processes=True)


def gzipped(body: str) -> Canned:
    return Canned(gzip.compress(body.encode()), headers={"Content-Encoding": "gzip"})


def test_processes_give_the_verdicts_threads_give(tmp_path: Path, profile: Profile) -> None:
    with (
        LocalServer({"/name/jane-testwood": gzipped(page(JANE))}, fallback=gzipped(page(NOBODY))) as listed,
        LocalServer(fallback=gzipped(page(NOBODY))) as empty,
    ):
        rules = rules_for(tmp_path, [listed, empty])
        by_process = run_scan(profile, rules, replace(fast_options(), analysis_processes=True, analysis_workers=2))
        by_thread = run_scan(profile, rules, replace(fast_options(), analysis_processes=False))
    for scanned in (by_process, by_thread):
        assert [s.status for s in scanned.sites] == [Status.FOUND, Status.NOT_FOUND]
    assert [len(s.user_listings) for s in by_process.sites] == [len(s.user_listings) for s in by_thread.sites]


def test_a_page_past_its_budget_is_that_pages_failure(tmp_path: Path, profile: Profile) -> None:
    # a page of 480 cards takes a good part of a second to read: far more than a budget of 50 ms
    many = "".join(
        card(f"Jane Testwood {i}th", f'<div class="subtitle">Age {20 + i % 50} • Tucson, AZ</div>') for i in range(480)
    )
    routes = {"/name/jane-testwood": Canned(page(many + JANE))}
    with LocalServer(routes, fallback=Canned(page(NOBODY))) as server:
        rules = rules_for(tmp_path, [server])
        options = replace(fast_options(), analysis_processes=True, analysis_workers=1, analysis_budget=0.05)
        starved = run_scan(profile, rules, options).sites[0]
        # the pool replaced its worker: a normal budget afterwards reads the same pages
        fine = run_scan(profile, rules, replace(options, analysis_budget=15.0)).sites[0]
    assert starved.status is Status.COULD_NOT_CHECK and starved.reason is Outcome.ERROR
    assert "took longer than" in starved.detail and "rule s0" in starved.detail
    assert fine.status is Status.FOUND


def test_a_gzip_bomb_is_cut_off_where_the_page_is_read(tmp_path: Path, profile: Profile) -> None:
    bomb = gzip.compress(b"<html><body>" + b"A" * (64 * 1024 * 1024) + b"</body></html>", 9)
    with (
        LocalServer(fallback=Canned(bomb, headers={"Content-Encoding": "gzip"})) as hostile,
        LocalServer({"/name/jane-testwood": Canned(page(JANE))}, fallback=Canned(page(NOBODY))) as listed,
    ):
        rules = rules_for(tmp_path, [hostile, listed])
        scanned = run_scan(profile, rules, replace(fast_options(), analysis_processes=True, analysis_workers=2))
    bombed, found = scanned.sites
    assert bombed.status is Status.COULD_NOT_CHECK and "larger than" in bombed.detail
    assert found.status is Status.FOUND


class _HeldAnalyzer(Analyzer):
    """Reads no page until the test lets it: pages pile up the way they do when the cores fall behind."""

    def __init__(self, profile: Profile) -> None:
        super().__init__(profile, {})
        self.go = threading.Event()

    def results(self, page: Page, rule_id: str, found_by: str) -> ResultsReading:
        self.go.wait(10)
        return ResultsReading(Classification(Outcome.NO_RESULTS, "nothing"))


class _OneByOneAnalyzer(Analyzer):
    """Reads a page each time the test says so."""

    def __init__(self, profile: Profile) -> None:
        super().__init__(profile, {})
        self.turns = threading.Semaphore(0)

    def results(self, page: Page, rule_id: str, found_by: str) -> ResultsReading:
        self.turns.acquire(timeout=10)
        return ResultsReading(Classification(Outcome.NO_RESULTS, "nothing"))


def test_requests_waiting_for_room_go_on_as_pages_are_read_not_all_at_once(profile: Profile) -> None:
    analyzer = _OneByOneAnalyzer(profile)
    pool = AnalysisPool(analyzer, workers=1, max_waiting=2)
    empty = Page("http://127.0.0.1:1/", "http://127.0.0.1:1/", 200, {}, b"", "", "text/html")

    async def main() -> tuple[int, int]:
        reads = [asyncio.create_task(pool.results(empty, "r", "q")) for _ in range(2)]
        await asyncio.sleep(0.05)
        waiting = [asyncio.create_task(pool.room()) for _ in range(5)]
        await asyncio.sleep(0.05)
        before = sum(w.done() for w in waiting)
        analyzer.turns.release()  # one page read: room for one more request
        await asyncio.wait_for(reads[0], 5)
        await asyncio.sleep(0.05)
        after_one = sum(w.done() for w in waiting)
        analyzer.turns.release()  # nothing left to read: every request goes on
        await asyncio.wait_for(reads[1], 5)
        await asyncio.wait_for(asyncio.gather(*waiting), 2)
        return before, after_one

    try:
        before, after_one = asyncio.run(main())
    finally:
        pool.close()
    assert (before, after_one) == (0, 1)


def test_new_requests_wait_while_pages_wait_to_be_read(profile: Profile) -> None:
    analyzer = _HeldAnalyzer(profile)
    pool = AnalysisPool(analyzer, workers=1, max_waiting=2)
    empty = Page("http://127.0.0.1:1/", "http://127.0.0.1:1/", 200, {}, b"", "", "text/html")

    async def main() -> tuple[bool, bool, list[Outcome]]:
        reads = [asyncio.create_task(pool.results(empty, "r", "q")) for _ in range(2)]
        await asyncio.sleep(0.05)
        room = asyncio.create_task(pool.room())
        await asyncio.sleep(0.2)
        waited = not room.done()  # two pages wait to be read: the fetcher may not ask for a third
        analyzer.go.set()
        outcomes = [(await r).classification.outcome for r in reads]
        await asyncio.wait_for(room, 2)
        return waited, room.done(), outcomes

    try:
        waited, freed, outcomes = asyncio.run(main())
    finally:
        pool.close()
    assert waited and freed
    assert outcomes == [Outcome.NO_RESULTS, Outcome.NO_RESULTS]


def test_new_requests_wait_while_the_pages_waiting_to_be_read_are_big(profile: Profile) -> None:
    # a long line of small (compressed) pages keeps the workers busy; a few big pages are enough to hold
    analyzer = _HeldAnalyzer(profile)
    pool = AnalysisPool(analyzer, workers=1, max_waiting=100, max_waiting_bytes=1000)
    small = Page("http://127.0.0.1:1/", "http://127.0.0.1:1/", 200, {}, b"x" * 100, "", "text/html")
    big = Page("http://127.0.0.1:1/", "http://127.0.0.1:1/", 200, {}, b"x" * 1000, "", "text/html")

    async def main() -> tuple[bool, bool, bool]:
        first = [asyncio.create_task(pool.results(small, "r", "q")) for _ in range(3)]
        await asyncio.sleep(0.05)
        room_for_small = asyncio.create_task(pool.room())
        await asyncio.sleep(0.05)
        small_went_on = room_for_small.done()  # 300 bytes wait: under the bound
        second = asyncio.create_task(pool.results(big, "r", "q"))
        await asyncio.sleep(0.05)
        room = asyncio.create_task(pool.room())
        await asyncio.sleep(0.2)
        held = not room.done()  # 1,300 bytes wait, in only 4 pages
        analyzer.go.set()
        await asyncio.gather(*first, second)
        await asyncio.wait_for(room, 2)
        return small_went_on, held, room.done()

    try:
        small_went_on, held, freed = asyncio.run(main())
    finally:
        pool.close()
    assert small_went_on and held and freed


def test_analysis_workers_do_not_import_the_http_client() -> None:
    # httpx and aiohttp were a third of each worker's memory, and a worker never fetches anything
    code = (
        "import sys, exposure._forkserver; "
        "print(sorted(m for m in ('httpx', 'aiohttp', 'httpx_aiohttp', 'playwright') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_analysis_workers_do_not_run_the_main_script_again(tmp_path: Path) -> None:
    # multiprocessing has every new process run the parent's main script again; the scan's main script is the
    # command line, which loads the HTTP client (here: a script that imports aiohttp at its top), and a worker
    # that ran it would carry aiohttp's compiled parser in its memory
    script = tmp_path / "main_script.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio
            import sys
            from pathlib import Path

            import aiohttp  # noqa: F401  (what the command line loads before any scan)

            from exposure.analyze import Analyzer
            from exposure.models import Page
            from exposure.profile import load_profile
            from exposure.workers import AnalysisPool

            if __name__ == "__main__":
                pool = AnalysisPool(Analyzer(load_profile(Path(sys.argv[1])), {}), workers=1, processes=True)
                page = Page("http://127.0.0.1:1/", "http://127.0.0.1:1/", 200, {}, b"", "", "text/html")

                async def main() -> None:
                    await pool.results(page, "no-such-rule", "q")  # the worker is up and has answered

                asyncio.run(main())
                worker = pool._pool._all[0].proc.pid
                with open(f"/proc/{worker}/maps") as maps:
                    print(sorted({line.split("/")[-1].split(".")[0] for line in maps if "aiohttp" in line}))
                pool.close()
            """
        )
    )
    profile_path = Path(__file__).parent / "fixtures" / "profiles" / "default.toml"
    out = subprocess.run(
        [sys.executable, str(script), str(profile_path)], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_pages_queued_behind_a_runaway_page_are_read_by_its_replacement(tmp_path: Path, profile: Profile) -> None:
    # one worker holds two pages at once: the one it reads and the next; when the first runs over its budget and
    # the worker is killed, the second is not lost with it
    # a 6 MB page of 480 long cards takes over a second to read, far over the budget of 0.5 s
    pad = "<p>" + "Springfield, IL Age 47 Related to Jane Testwood, " * 240 + "</p>"
    many = "".join(
        card(f"Jane Testwood {i}th", f'<div class="subtitle">Age {20 + i % 50} • Tucson, AZ</div>{pad}')
        for i in range(480)
    )
    with LocalServer(fallback=Canned(page(NOBODY))) as server:
        rule = rules_for(tmp_path, [server])[0]
    url = f"{server.base}/name/jane-testwood"

    def html(body: str) -> Page:
        text = page(body)
        return Page(url, url, 200, {"content-type": "text/html"}, text.encode(), text, "text/html")

    pool = AnalysisPool(Analyzer(profile, {rule.id: rule}), workers=1, budget=0.5, processes=True)

    async def main() -> list[ResultsReading]:
        await pool.results(html(NOBODY), rule.id, url)  # the worker is up and has read a page
        reads = asyncio.gather(*(pool.results(html(b), rule.id, url) for b in (many, JANE, NOBODY)))
        return list(await asyncio.wait_for(reads, 30))  # a page lost with its worker would never be answered

    try:
        slow, listed, empty = asyncio.run(main())
    finally:
        pool.close()
    assert slow.classification.outcome is Outcome.ERROR and "took longer than" in slow.classification.detail
    # read in full by the replacement (the old rule's cards drifted: unrecognized, with its one listing)
    assert listed.classification.outcome is not Outcome.ERROR and len(listed.verdicts) == 1
    assert empty.classification.outcome is Outcome.NO_RESULTS


def test_the_request_slots_go_first_to_the_site_with_most_left_to_do() -> None:
    slots = _Slots(1)
    order: list[str] = []

    async def ask(name: str, priority: int) -> None:
        await slots.acquire(priority)
        order.append(name)
        await asyncio.sleep(0.01)
        slots.release()

    async def main() -> None:
        await slots.acquire(0)  # every slot taken
        waiting = [asyncio.create_task(ask(n, p)) for n, p in (("first come", 0), ("most left", -5), ("some", -2))]
        gives_up = asyncio.create_task(ask("cancelled", -9))
        await asyncio.sleep(0.01)
        gives_up.cancel()
        slots.release()
        await asyncio.gather(*waiting)
        await asyncio.wait_for(slots.acquire(0), 1)  # a cancelled waiter took no slot with it

    asyncio.run(main())
    assert order == ["most left", "some", "first come"]


def test_pages_wait_for_a_worker_by_priority_like_the_request_slots(tmp_path: Path, profile: Profile) -> None:
    rule, url, empty, pool = one_worker_and_an_empty_page(tmp_path, profile)
    order: list[str] = []

    async def read(name: str, priority: int) -> None:
        reading = await pool.results(empty, rule.id, url, priority=priority)
        assert reading.classification.outcome is Outcome.NO_RESULTS
        order.append(name)

    async def main() -> None:
        await pool.results(empty, rule.id, url)  # the worker is up
        # the worker takes the first two at once (the one it reads and the next, in its pipe); the rest wait
        asked = (("taken", 0), ("in the pipe", 0), ("first come", 0), ("most left", -5), ("some", -2))
        await asyncio.wait_for(asyncio.gather(*(read(n, p) for n, p in asked)), 30)

    try:
        asyncio.run(main())
    finally:
        pool.close()
    assert order == ["taken", "in the pipe", "most left", "some", "first come"]


def test_workers_start_without_holding_up_the_event_loop(
    tmp_path: Path, profile: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's start waits for the forkserver (its first start imports the analysis code): that wait runs in a
    thread, while the loop goes on with the network. Here each start is made to take a second longer."""
    import exposure.workers as workers

    launch = workers._Worker.launch

    def slow_launch(self: workers._Worker) -> None:
        time.sleep(1)
        launch(self)

    monkeypatch.setattr(workers._Worker, "launch", slow_launch)
    rule, url, empty, pool = one_worker_and_an_empty_page(tmp_path, profile)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def main() -> ResultsReading:
        ticking = asyncio.create_task(ticker())
        try:
            return await asyncio.wait_for(pool.results(empty, rule.id, url), 30)
        finally:
            ticking.cancel()

    try:
        reading = asyncio.run(main())
    finally:
        pool.close()
    assert reading.classification.outcome is Outcome.NO_RESULTS
    assert ticks >= 20  # the loop kept running while the worker started (it stood still before)


def test_a_worker_that_cannot_start_fails_the_waiting_pages_and_the_next_page_tries_again(
    tmp_path: Path, profile: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    import exposure.workers as workers

    launch = workers._Worker.launch
    failures = [OSError("no more processes")]

    def failing_launch(self: workers._Worker) -> None:
        if failures:
            raise failures.pop()
        launch(self)

    monkeypatch.setattr(workers._Worker, "launch", failing_launch)
    rule, url, empty, pool = one_worker_and_an_empty_page(tmp_path, profile)

    async def main() -> tuple[ResultsReading, ResultsReading]:
        first = await asyncio.wait_for(pool.results(empty, rule.id, url), 30)
        second = await asyncio.wait_for(pool.results(empty, rule.id, url), 30)
        return first, second

    try:
        first, second = asyncio.run(main())
    finally:
        pool.close()
    assert first.classification.outcome is Outcome.ERROR and "no more processes" in first.classification.detail
    assert second.classification.outcome is Outcome.NO_RESULTS
