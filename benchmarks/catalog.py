"""Catalog benchmark: every bundled rule scanned at once against its own fixture pages on 127.0.0.1.

Run by hand from the repository root:

    .venv/bin/python benchmarks/catalog.py [--min-ms 50] [--max-ms 150] [--rounds 1]

Why it looks like this: `scan.py` measures the client on a synthetic web of hundreds of look-alike sites;
this one runs the real catalog (its rules' own politeness settings, searches, detail hops and pages shaped
like the real sites') the way a user's scan would, so a rule that costs far more than politeness explains
shows up. One server in its own process answers for every rule's hosts (the Host header says which site), each
answer held back 50-150 ms; the rule's results fixture is every search's answer and `/fixture/<file>` its
detail and next pages, as in the contract test. The least time politeness allows is computed per site from
the requests the server saw, as in scan.py; the verdicts are checked against each fixture's expect.toml.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import sys
import time
import tomllib
from collections import Counter
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from scan import least_time  # noqa: E402

from exposure.fetch import FetchSettings  # noqa: E402
from exposure.pipeline import ScanOptions, scan  # noqa: E402
from exposure.profile import load_profile  # noqa: E402
from exposure.rules import BUNDLED_RULES, Rule, load_catalog  # noqa: E402

SITES = ROOT / "tests" / "fixtures" / "sites"
PROFILE = ROOT / "tests" / "fixtures" / "profiles" / "default.toml"
TODAY = date(2026, 11, 21)  # the day the fixture pages show ages for


def hosts_of(rule: Rule) -> set[str]:
    from urllib.parse import urlsplit

    hosts = {
        urlsplit(t.split("{", 1)[0]).hostname or "" for s in rule.searches for t in (s.url, s.url_without_location) if t
    }
    if rule.manual_url:
        hosts.add(urlsplit(rule.manual_url).hostname or "")
    return {h for h in hosts if h}


def serve(by_host: dict[str, str], min_ms: float, max_ms: float, conn: Connection) -> None:
    asyncio.run(_serve(by_host, min_ms, max_ms, conn))


async def _serve(by_host: dict[str, str], min_ms: float, max_ms: float, conn: Connection) -> None:
    from aiohttp import web

    pages: dict[str, dict[str, Any]] = {}
    for site_id in set(by_host.values()):
        folder = SITES / site_id
        expect = tomllib.loads((folder / "expect.toml").read_text())["results"]
        pages[site_id] = {
            "results": (folder / expect["file"]).read_bytes(),
            "status": int(expect.get("http_status", 200)),
            "files": {p.name: p.read_bytes() for p in folder.glob("*.html")},
        }
    counts: Counter[str] = Counter()
    rng = random.Random(1)
    done = asyncio.Event()

    async def answer(request: web.Request) -> web.StreamResponse:
        site_id = by_host.get(request.host.split(":")[0].lower(), "")
        if request.path == "/_stats":
            return web.json_response(dict(counts))
        if request.path == "/_quit":
            done.set()
            return web.Response(text="bye")
        if not site_id:
            return web.Response(status=404, text="unknown host")
        counts[site_id] += 1
        await asyncio.sleep(rng.uniform(min_ms, max_ms) / 1000)
        site = pages[site_id]
        if request.path.startswith("/fixture/"):
            body = site["files"].get(request.path.removeprefix("/fixture/"))
            if body is None:
                return web.Response(status=404, text="no such fixture")
            return web.Response(body=body, content_type="text/html", charset="utf-8")
        return web.Response(body=site["results"], status=site["status"], content_type="text/html", charset="utf-8")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    conn.send(port)
    await done.wait()
    await runner.cleanup()


def _get(port: int, path: str, host: str) -> bytes:
    import urllib.request

    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    with urllib.request.urlopen(req, timeout=10) as resp:  # our own server on 127.0.0.1
        data: bytes = resp.read()
        return data


def main(argv: list[str] | None = None) -> int:
    import json

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--min-ms", type=float, default=50.0)
    ap.add_argument("--max-ms", type=float, default=150.0)
    args = ap.parse_args(argv)

    rules = [r for r in load_catalog([BUNDLED_RULES]).rules if (SITES / r.id / "expect.toml").is_file()]
    by_host = {h: r.id for r in rules for h in hosts_of(r)}
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=serve, args=(by_host, args.min_ms, args.max_ms, child), daemon=True)
    server.start()
    try:
        port = parent.recv()
        options = ScanOptions(
            fetch=FetchSettings(connect_to={h: f"127.0.0.1:{port}" for h in by_host}, timeout=20), today=TODAY
        )
        profile = load_profile(PROFILE)
        t0 = time.perf_counter()
        result = asyncio.run(scan(profile, rules, options))
        wall = time.perf_counter() - t0
        any_host = next(iter(by_host))
        counts: dict[str, int] = json.loads(_get(port, "/_stats", any_host))
        latency = (args.min_ms + args.max_ms) / 2000
        least, slowest = 0.0, ""
        for r in rules:
            t = least_time(counts.get(r.id, 0), r.delay, r.concurrency, latency)
            if t > least:
                least, slowest = t, f"{r.id} ({counts.get(r.id, 0)} requests, delay {r.delay:g} s)"
        wrong = []
        for s in result.sites:
            want = tomllib.loads((SITES / s.site.id / "expect.toml").read_text())["results"]["site_status"]
            if s.status.value != want:
                wrong.append(f"{s.site.id}: {s.status.value} ({s.reason} {s.detail}), expected {want}")
        latency_ms = f"{args.min_ms:g}-{args.max_ms:g} ms"
        print(f"{len(rules)} catalog rules, {sum(counts.values())} requests, server latency {latency_ms}")
        print(
            f"wall {wall:.2f} s, least politeness allows {least:.2f} s (slowest site {slowest}): "
            f"wall / least = {wall / least:.2f}"
        )
        print(
            f"verdicts: {dict(Counter(s.status.value for s in result.sites))}; "
            f"{'all as the fixtures expect' if not wrong else f'{len(wrong)} WRONG'}"
        )
        for line in wrong:
            print(f"  WRONG {line}")
        _get(port, "/_quit", any_host)
        server.join(10)
        return 1 if wrong else 0
    finally:
        if server.is_alive():
            server.terminate()


if __name__ == "__main__":
    raise SystemExit(main())
