"""Browser-engine benchmark: what 10 JavaScript-rendered sites cost a scan of 100 plain ones.

Run by hand from the repository root:

    .venv/bin/python benchmarks/browser.py [--plain 100] [--browser 10] [--min-ms 50] [--max-ms 150]

Why it looks like this:
- The simulated web of benchmarks/scan.py (same pages, same rules, same seed), in its own process, plus
  `--browser` sites whose every page is an empty shell: a script fetches the real page from the site's own
  API and puts it in place, so only a browser sees any listing. Their rules are the plain layouts' rules with
  `engine = "browser"`. Each of the three requests of a browser page (shell, script, API) has the latency.
- Each scan runs in a fresh child process, so the peak memory of one is not inherited by the next. The child
  samples its whole process tree (itself, Playwright's driver, every Chromium process) every 100 ms:
  RSS counts shared pages once per process and overstates the total, PSS shares them out and is the number
  to hold against the machine's memory.
- "Plain sites are not slowed" is measured on the plain sites themselves: when each one finished, counted
  from the scan's start, in the plain-only scan and in the mixed one.
- The benchmark checks its own answer, as scan.py does: a fast wrong scan is not a result.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import multiprocessing
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import scan as plainbench  # noqa: E402  (benchmarks/scan.py: the simulated web)

from exposure.browser import BrowserSettings  # noqa: E402
from exposure.fetch import FetchSettings  # noqa: E402
from exposure.models import SiteResult  # noqa: E402
from exposure.pipeline import ScanOptions, scan  # noqa: E402
from exposure.profile import load_profile  # noqa: E402
from exposure.rules import load_rules  # noqa: E402

APP_JS = """
fetch('/api/page?u=' + encodeURIComponent(location.pathname + location.search))
  .then(r => r.text())
  .then(html => {
    const doc = new DOMParser().parseFromString(html, 'text/html');
    document.documentElement.replaceChild(document.adoptNode(doc.head), document.head);
    document.documentElement.replaceChild(document.adoptNode(doc.body), document.body);
  });
"""
SHELL = (
    "<!doctype html><html><head><title>Loading</title></head><body><div id=app>Loading…</div>"
    "<script src=/app.js></script></body></html>"
)


def serve(
    specs: list[dict[str, Any]],
    browser_ids: list[int],
    today: str,
    min_ms: float,
    max_ms: float,
    seed: int,
    conn: Connection,
) -> None:
    asyncio.run(
        _serve(
            [plainbench.SiteSpec(**s) for s in specs],
            set(browser_ids),
            date.fromisoformat(today),
            min_ms,
            max_ms,
            seed,
            conn,
        )
    )


async def _serve(
    specs: list[plainbench.SiteSpec],
    browser_ids: set[int],
    today: date,
    min_ms: float,
    max_ms: float,
    seed: int,
    conn: Connection,
) -> None:
    from aiohttp import web

    filler = plainbench.Filler(random.Random(seed))
    # every answer is compressed once, before the scan: server CPU must not add to the latency (as in scan.py)
    pages = {
        s.index: {
            k: (status, gzip.compress(html.encode(), 6))
            for k, (status, html) in plainbench.render_site(s, today, filler, seed).items()
        }
        for s in specs
    }
    shell_gz, app_gz = gzip.compress(SHELL.encode(), 6), gzip.compress(APP_JS.encode(), 6)
    rng = random.Random(seed + 1)
    by_port: dict[int, plainbench.SiteSpec] = {}
    done = asyncio.Event()

    def answer(body: bytes, status: int, content_type: str) -> web.Response:
        headers = {
            "Content-Type": f"{content_type}; charset=utf-8",
            "Content-Encoding": "gzip",
            "Cache-Control": "no-store",
        }
        return web.Response(body=body, status=status, headers=headers)

    async def site(request: web.Request) -> web.StreamResponse:
        sock = request.transport.get_extra_info("sockname") if request.transport else None
        spec = by_port[sock[1]]
        await asyncio.sleep(rng.uniform(min_ms, max_ms) / 1000)
        if spec.index in browser_ids and request.path == "/app.js":
            return answer(app_gz, 200, "text/javascript")
        if spec.index in browser_ids and request.path == "/favicon.ico":
            return web.Response(status=404)
        target, query = request.path, dict(request.query)
        if spec.index in browser_ids and request.path == "/api/page":
            from urllib.parse import parse_qsl, urlsplit

            parts = urlsplit(request.query.get("u", "/"))
            target, query = parts.path, dict(parse_qsl(parts.query))
        key = plainbench.page_key(spec, target, query)
        status, html = pages[spec.index].get(key) or pages[spec.index]["no"]
        if spec.index in browser_ids:
            if request.path == "/api/page":
                return answer(html, 200, "text/html")
            return answer(shell_gz, status, "text/html")
        return answer(html, status, "text/html")

    async def quit_(request: web.Request) -> web.StreamResponse:
        done.set()
        return web.Response(text="bye")

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", site)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    for spec in specs:
        tcp = web.TCPSite(runner, "127.0.0.1", 0, backlog=512)
        await tcp.start()
        by_port[tcp._server.sockets[0].getsockname()[1]] = spec  # type: ignore[union-attr]
    control = web.Application()
    control.router.add_post("/quit", quit_)
    control_runner = web.AppRunner(control, access_log=None)
    await control_runner.setup()
    ctl = web.TCPSite(control_runner, "127.0.0.1", 0)
    await ctl.start()
    conn.send(
        {
            "ports": {spec.index: port for port, spec in by_port.items()},
            "control": ctl._server.sockets[0].getsockname()[1],
        }
    )  # type: ignore[union-attr]
    await done.wait()
    await runner.cleanup()
    await control_runner.cleanup()


# ----------------------------------------------------------------- the child: one scan, its memory


def _tree(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, ()))
    return out


def _memory(pids: list[int], with_pss: bool) -> tuple[int, int]:
    """RSS and PSS of the processes. PSS (smaps_rollup) walks every page table, which the kernel charges to
    the reader: it is read every few samples only, and the sampler's own CPU is left out of the results."""
    rss = pss = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                rss += int(f.read().split()[1]) * page
            if with_pss:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            pss += int(line.split()[1]) * 1024
                            break
        except OSError:
            continue
    return rss, pss


def _cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return -1.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Sampler(threading.Thread):
    """Peak memory of the process tree, and the CPU its other processes used (last seen per process)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_rss = self.peak_pss = self.peak_procs = 0
        self.others_cpu: dict[int, float] = {}
        self.names: dict[int, str] = {}
        self.own_cpu = 0.0  # CPU the sampling itself used, taken out of the process's CPU
        self.last_procs = 0
        self.stop = threading.Event()

    def run(self) -> None:
        me = os.getpid()
        tick = 0
        while not self.stop.is_set():
            t0 = time.thread_time()
            pids = _tree(me)
            rss, pss = _memory(pids, with_pss=tick % 5 == 0 or len(pids) != self.last_procs)
            tick += 1
            self.last_procs = len(pids)
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.peak_procs = max(self.peak_procs, len(pids))
            for pid in pids:
                if pid != me and (cpu := _cpu(pid)) >= 0:
                    self.others_cpu[pid] = cpu
                    if pid not in self.names:
                        try:
                            with open(f"/proc/{pid}/cmdline", "rb") as f:
                                cmdline = f.read()
                            kind = re.search(rb"--type=([a-z-]+)", cmdline)
                            first = cmdline.split(b"\0")[0].split(b" ")[0]
                            name = "chromium" if b"chromium" in first or kind else Path(first.decode()).name
                            self.names[pid] = f"{name} {kind.group(1).decode() if kind else ''}".strip()
                        except OSError:
                            self.names[pid] = "?"
            self.own_cpu += time.thread_time() - t0
            self.stop.wait(0.1)


def _by_name(sampler: Sampler) -> dict[str, float]:
    out: dict[str, float] = {}
    for pid, cpu in sampler.others_cpu.items():
        name = sampler.names.get(pid, "?")
        out[name] = round(out.get(name, 0.0) + cpu, 2)
    return out


def child(rules_dir: Path, expected: dict[str, str], today: date, nice: int) -> dict[str, Any]:
    profile = load_profile(plainbench.PROFILE_PATH)
    rules = load_rules([rules_dir])
    options = ScanOptions(fetch=FetchSettings(concurrency=32), today=today, browser=BrowserSettings(nice=nice))
    finished: dict[str, float] = {}
    sampler = Sampler()
    sampler.start()
    t0 = time.perf_counter()

    def on_site(s: SiteResult) -> None:
        finished[s.site.id] = time.perf_counter() - t0

    lags: list[float] = []

    async def main() -> Any:
        async def watch() -> None:  # how late the event loop wakes a 20 ms sleep: its stalls
            while True:
                t = time.perf_counter()
                await asyncio.sleep(0.02)
                lags.append(time.perf_counter() - t - 0.02)
                if lags[-1] > 0.3:
                    print(f"stall of {lags[-1] * 1000:.0f} ms at {t - t0:.2f} s", file=sys.stderr)

        watcher = asyncio.ensure_future(watch())
        try:
            return await scan(profile, rules, options, on_site=on_site)
        finally:
            watcher.cancel()

    result = asyncio.run(main())
    wall = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    engines = {r.id: r.engine for r in rules}
    plain = sorted(t for sid, t in finished.items() if engines[sid] == "http")
    browser = sorted(t for sid, t in finished.items() if engines[sid] == "browser")
    wrong = [
        f"{s.site.id}: {s.status} ({s.reason or ''} {s.detail[:160]}), expected {expected[s.site.id]}"
        for s in result.sites
        if s.status.value != expected[s.site.id]
    ]
    return {
        "wall": wall,
        "peak_rss": sampler.peak_rss,
        "peak_pss": sampler.peak_pss,
        "peak_procs": sampler.peak_procs,
        "python_max_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "cpu": time.process_time() - sampler.own_cpu,
        "others_cpu": sum(sampler.others_cpu.values()),
        "cpu_by_process": _by_name(sampler),
        "loop_lag_p99_ms": 1000 * sorted(lags)[int(0.99 * (len(lags) - 1))] if lags else 0.0,
        "loop_lag_max_ms": 1000 * max(lags, default=0.0),
        "plain_median": statistics.median(plain) if plain else 0.0,
        "plain_last": plain[-1] if plain else 0.0,
        "browser_last": browser[-1] if browser else 0.0,
        "browser_pages": int(result.extra.get("browser_pages", "0")),
        "requests": int(result.extra.get("requests", "0")),
        "sites": len(result.sites),
        "wrong": wrong,
    }


# ----------------------------------------------------------------- the parent


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per number, the median over the runs; peaks are the highest seen; every wrong verdict is kept."""
    out: dict[str, Any] = {}
    for key, value in runs[0].items():
        if key in ("peak_rss", "peak_pss", "peak_procs", "python_max_rss"):
            out[key] = max(r[key] for r in runs)
        elif isinstance(value, int):
            out[key] = statistics.median_low(r[key] for r in runs)
        elif isinstance(value, float):
            out[key] = statistics.median(r[key] for r in runs)
        elif key == "wrong":
            out[key] = [w for r in runs for w in r[key]]
        else:
            out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plain", type=int, default=100)
    ap.add_argument("--browser", type=int, default=10)
    ap.add_argument("--min-ms", type=float, default=50.0)
    ap.add_argument("--max-ms", type=float, default=150.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="scans of each kind, alternated; medians are shown")
    ap.add_argument("--nice", type=int, default=BrowserSettings().nice, help="BrowserSettings.nice (0: off)")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    today = date.today()
    if args.child:
        job = json.loads(args.child.read_text())
        print(json.dumps(child(Path(job["rules"]), job["expected"], today, job["nice"])))
        return 0

    specs = plainbench.make_specs(args.plain + args.browser, args.seed)
    browser_ids = [s.index for s in specs[args.plain :]]
    ctx = multiprocessing.get_context("spawn")
    parent, conn = ctx.Pipe()
    server = ctx.Process(
        target=serve,
        args=([asdict(s) for s in specs], browser_ids, today.isoformat(), args.min_ms, args.max_ms, args.seed, conn),
        daemon=True,
    )
    server.start()
    try:
        if not parent.poll(300):
            raise SystemExit("the simulated web did not start within 300 s")
        info = parent.recv()
        runs: dict[str, list[dict[str, Any]]] = {"plain only": [], "mixed": []}
        with tempfile.TemporaryDirectory(prefix="exposure-bench-browser-") as tmp:
            jobs = {}
            for mode, chosen in (("plain only", specs[: args.plain]), ("mixed", specs)):
                folder = Path(tmp) / mode.replace(" ", "-")
                folder.mkdir()
                for spec in chosen:
                    text = plainbench.rule_toml(spec, info["ports"][spec.index])
                    if spec.index in browser_ids:
                        text = text.replace("\ntags = ", '\nengine = "browser"\ntags = ', 1)
                    (folder / f"{spec.site_id}.toml").write_text(text)
                jobs[mode] = Path(tmp) / f"{folder.name}.json"
                jobs[mode].write_text(
                    json.dumps(
                        {
                            "rules": str(folder),
                            "expected": {s.site_id: s.expected.value for s in chosen},
                            "nice": args.nice,
                        }
                    )
                )
            # alternated, so a machine that gets busier or quieter meanwhile weighs on both kinds alike
            for k in range(args.repeat):
                for mode, job in jobs.items():
                    done = subprocess.run(
                        [sys.executable, __file__, "--child", str(job)],
                        capture_output=True,
                        text=True,
                        timeout=1800,
                        check=False,
                    )
                    if done.returncode != 0:
                        print(done.stderr[-3000:])
                        raise SystemExit(f"the {mode} scan failed")
                    runs[mode].append(json.loads(done.stdout.strip().splitlines()[-1]))
                    for line in done.stderr.splitlines():
                        if line.startswith("stall of"):
                            print(f"    {mode}: {line}")
                    print(f"  {mode} #{k + 1}: {runs[mode][-1]['wall']:.2f} s")
        results = {mode: _median_run(rs) for mode, rs in runs.items()}
    finally:
        try:
            import urllib.request

            urllib.request.urlopen(
                urllib.request.Request(f"http://127.0.0.1:{info['control']}/quit", method="POST", data=b""), timeout=5
            )
        except Exception:
            pass
        server.join(10)
        if server.is_alive():
            server.terminate()

    mib = 1024 * 1024
    print(
        f"\n{args.plain} plain sites, {args.browser} browser sites, latency {args.min_ms:g}-{args.max_ms:g} ms, "
        f"{os.cpu_count()} CPUs; medians of {args.repeat} scans of each kind, peaks the highest"
    )
    head = (
        f"{'scan':<11} {'sites':>5} {'wall s':>7} {'plain median s':>14} {'plain last s':>12} "
        f"{'browser last s':>14} {'pages':>5} {'peak PSS MiB':>12} {'peak RSS MiB':>12} {'python MiB':>10} "
        f"{'procs':>5} {'CPU s':>6} {'browser CPU s':>13} {'correct':>7}"
    )
    print(head)
    print("-" * len(head))
    for mode, r in results.items():
        print(
            f"{mode:<11} {r['sites']:>5} {r['wall']:>7.2f} {r['plain_median']:>14.2f} {r['plain_last']:>12.2f} "
            f"{r['browser_last']:>14.2f} {r['browser_pages']:>5} {r['peak_pss'] / mib:>12.0f} "
            f"{r['peak_rss'] / mib:>12.0f} {r['python_max_rss'] / mib:>10.0f} {r['peak_procs']:>5} "
            f"{r['cpu']:>6.1f} {r['others_cpu']:>13.1f} {'yes' if not r['wrong'] else 'NO':>7}"
        )
        print(f"  {mode}: event loop stalls p99 {r['loop_lag_p99_ms']:.0f} ms, max {r['loop_lag_max_ms']:.0f} ms")
        if r["cpu_by_process"]:
            print(f"  CPU s of the other processes: {r['cpu_by_process']}")
        for line in r["wrong"][:10]:
            print(f"  WRONG {line}")
    return 1 if any(r["wrong"] for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
