"""Hostile-web benchmark: about 30 hostile sites scanned together with 30 healthy ones (issue 3, "How we will know").

Run by hand from the repository root:

    .venv/bin/python benchmarks/hostile.py [--healthy 30] [--timeout 5] [--site-deadline 15]

What it checks and prints:
- Every hostile scenario of tests/hostile/server.py (bombs, a 50 MiB body, stacked and unasked encodings,
  a byte a second, hangs, resets, redirect loops and escapes, every canned block page, rate limits, flaky
  and unreadable answers) as one site each, plus the pages that only look protected. Each site has the
  status the truth demands; the benchmark lists every site that does not, and fails if there is one.
- Wall time of the healthy sites alone, and of the same healthy sites scanned with the hostile ones.
  The hostile sites may add at most the slowest site's deadline (`--site-deadline`).
- Peak resident memory of the scanning process (the servers run in a child process, so their memory and
  CPU are not counted): it must stay under 200 MB.

Healthy sites answer after 50-150 ms, with a 30-60 KB page, six searches each (three names, two phones,
one email) at the default politeness of 2 requests in flight and 0.2 s between starts.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import resource
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing the package
sys.path.insert(0, str(ROOT / "tests"))  # the hostile servers and the loopback test server

from exposure.fetch import FetchSettings  # noqa: E402
from exposure.models import Outcome, ScanResult, Status  # noqa: E402
from exposure.pipeline import ScanOptions, scan  # noqa: E402
from exposure.profile import Profile, load_profile  # noqa: E402
from exposure.rules import Rule  # noqa: E402

PROFILE_PATH = ROOT / "tests" / "fixtures" / "profiles" / "default.toml"
MB = 1_000_000
RSS_LIMIT = 200 * MB

# route -> (status, reason) the truth demands; reason None for found / not_found
HOSTILE: dict[str, tuple[Status, Outcome | None]] = {
    "/gzip-bomb": (Status.COULD_NOT_CHECK, Outcome.ERROR),
    "/deflate-bomb": (Status.COULD_NOT_CHECK, Outcome.ERROR),
    "/brotli-bomb": (Status.COULD_NOT_CHECK, Outcome.ERROR),
    "/big": (Status.COULD_NOT_CHECK, Outcome.ERROR),
    "/stacked-encoding": (Status.COULD_NOT_CHECK, Outcome.ERROR),
    "/unasked-encoding": (Status.COULD_NOT_CHECK, Outcome.ERROR),
    "/unasked-encoding?enc=br-x": (Status.COULD_NOT_CHECK, Outcome.ERROR),
    "/slow": (Status.COULD_NOT_CHECK, Outcome.TIMEOUT),
    "/hang": (Status.COULD_NOT_CHECK, Outcome.TIMEOUT),
    "/no-headers-hang": (Status.COULD_NOT_CHECK, Outcome.TIMEOUT),
    "/reset": (Status.COULD_NOT_CHECK, Outcome.ERROR),
    "/redirect-loop": (Status.COULD_NOT_CHECK, Outcome.ERROR),
    "/redirect-chain/10": (Status.FOUND, None),
    "/redirect-chain/11": (Status.COULD_NOT_CHECK, Outcome.ERROR),
    "/redirect-307-offsite": (Status.COULD_NOT_CHECK, Outcome.ERROR),
    "/redirect-js": (Status.COULD_NOT_CHECK, Outcome.ERROR),
    "/redirect-file": (Status.COULD_NOT_CHECK, Outcome.ERROR),
    "/redirect-userinfo": (Status.COULD_NOT_CHECK, Outcome.ERROR),
    "/429-small": (Status.COULD_NOT_CHECK, Outcome.RATE_LIMITED),
    "/429-huge": (Status.COULD_NOT_CHECK, Outcome.RATE_LIMITED),
    "/429-date": (Status.COULD_NOT_CHECK, Outcome.RATE_LIMITED),
    "/503-then-200?key=bench": (Status.FOUND, None),
    "/bad-charset": (Status.NOT_FOUND, None),
    "/binary": (Status.COULD_NOT_CHECK, Outcome.UNRECOGNIZED),
    "/image": (Status.COULD_NOT_CHECK, Outcome.UNRECOGNIZED),
}


def truth_for_canned() -> dict[str, tuple[Status, Outcome | None]]:
    from hostile.server import CANNED

    return {
        route: (Status.COULD_NOT_CHECK, Outcome.BLOCKED) if c.blocked else (Status.FOUND, None)
        for route, c in CANNED.items()
    }


# ----------------------------------------------------------------- the servers, in their own process


def _healthy_page(listed: bool, rng: random.Random) -> bytes:
    from hostile.server import page

    filler = b"".join(
        b"<p class='seo'>People search tip %d: records come from public sources and may be out of date.</p>\n" % i
        for i in range(rng.randint(300, 600))
    )
    if listed:
        return page("results.html").replace(b"</main>", filler + b"</main>")
    return (
        b"<!doctype html><html><head><title>No records</title></head><body><main>"
        + filler
        + b"<div id='no-results'>We found no records for that search.</div></main></body></html>"
    )


def _serve(conn: Connection) -> None:
    """Child process: the hostile server, the counting server, and one healthy server with latency."""
    from aiohttp import web
    from hostile.server import CountingServer, HostileServer, bomb
    from servers import LocalServer

    bomb("gzip"), bomb("br")
    rng = random.Random(7)
    listed_page, none_page = _healthy_page(True, rng), _healthy_page(False, rng)

    async def healthy(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(random.uniform(0.05, 0.15))
        body = listed_page if request.path.startswith("/listed") else none_page
        return web.Response(body=body, content_type="text/html")

    with (
        CountingServer() as other,
        HostileServer(other_base=other.base, hold_seconds=60) as hostile,
        LocalServer(fallback=healthy) as sane,
    ):
        conn.send({"hostile": hostile.base, "other": other.base, "healthy": sane.base})
        conn.recv()  # until the parent is done
        conn.send({"offsite_requests": other.count})


# ----------------------------------------------------------------- rules


def _rule(rule_id: str, base: str, searches: list[dict[str, str]], **extra: Any) -> Rule:
    return Rule.model_validate(
        {
            "id": rule_id,
            "name": rule_id,
            "domain": base.removeprefix("http://"),
            "searches": searches,
            "pages": {"no_results": [{"selector": "#no-results"}]},
            "extract": {
                "listing": ".card",
                "fields": {"name": ".name", "age": ".age", "location": ".location", "phones": ".phones"},
                "link": "a.name@href",
            },
            **extra,
        }
    )


def healthy_rules(base: str, n: int) -> tuple[list[Rule], dict[str, Status]]:
    rules, truth = [], {}
    for i in range(n):
        listed = i % 3 == 0
        prefix = f"{base}/{'listed' if listed else 'none'}/{i}"
        searches = [
            {"kind": "name", "url": prefix + "/name/{full|slug}"},
            {"kind": "phone", "url": prefix + "/phone/{phone}"},
            {"kind": "email", "url": prefix + "/email?q={email|urlencode}"},
        ]
        rule = _rule(f"healthy-{i:02d}", base, searches, delay=0.2, concurrency=2)
        rules.append(rule)
        truth[rule.id] = Status.FOUND if listed else Status.NOT_FOUND
    return rules, truth


def hostile_rules(base: str) -> tuple[list[Rule], dict[str, tuple[Status, Outcome | None]]]:
    scenarios = {**HOSTILE, **truth_for_canned()}
    rules, truth = [], {}
    for i, (route, expected) in enumerate(scenarios.items()):
        rule_id = f"hostile-{i:02d}-" + route.strip("/").replace("/", "-").split("?")[0]
        rules.append(_rule(rule_id, base, [{"kind": "name", "url": base + route}], delay=0.2, concurrency=2))
        truth[rule_id] = expected
    return rules, truth


# ----------------------------------------------------------------- running


def run(profile: Profile, rules: list[Rule], options: ScanOptions) -> tuple[ScanResult, float]:
    started = time.monotonic()
    result = asyncio.run(scan(profile, rules, options))
    return result, time.monotonic() - started


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--healthy", type=int, default=30, help="healthy sites (default 30)")
    parser.add_argument("--timeout", type=float, default=5.0, help="request deadline in seconds (default 5)")
    parser.add_argument("--site-deadline", type=float, default=15.0, help="per-site deadline (default 15)")
    args = parser.parse_args()

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(child,), daemon=True)
    server.start()
    bases = parent.recv()
    profile = load_profile(PROFILE_PATH)
    options = ScanOptions(
        # every simulated site lives on one of two local servers, so they share a "domain": the per-site request
        # cap (100) would end them all as skipped, which says nothing about hostile pages
        fetch=FetchSettings(
            timeout=args.timeout, retries=2, backoff=0.5, retry_after_cap=60.0, max_requests_per_site=100_000
        ),
        site_deadline=args.site_deadline,
    )
    sane, sane_truth = healthy_rules(bases["healthy"], args.healthy)
    bad, bad_truth = hostile_rules(bases["hostile"])
    rss_before = peak_rss()

    alone, healthy_seconds = run(profile, sane, options)
    mixed, mixed_seconds = run(profile, [*bad, *sane], options)
    parent.send("done")
    offsite = parent.recv()["offsite_requests"]
    server.join(10)

    wrong = []
    for result in (alone, mixed):
        for site in result.sites:
            if site.site.id in sane_truth:
                expected: tuple[Status, Outcome | None] = (sane_truth[site.site.id], None)
            else:
                expected = bad_truth[site.site.id]
            if (site.status, site.reason) != expected:
                wrong.append(f"  {site.site.id}: {site.status}/{site.reason} ({site.detail}), expected {expected}")
    extra = mixed_seconds - healthy_seconds
    rss = peak_rss()

    print(
        f"sites: {len(bad)} hostile + {len(sane)} healthy; request deadline {args.timeout:g} s, "
        f"site deadline {args.site_deadline:g} s"
    )
    print(f"healthy alone:      {healthy_seconds:6.2f} s  ({alone.extra['requests']} requests)")
    print(f"healthy + hostile:  {mixed_seconds:6.2f} s  ({mixed.extra['requests']} requests)")
    print(f"added by hostile:   {extra:6.2f} s  (allowed: the slowest site's deadline, {args.site_deadline:g} s)")
    print(f"peak RSS:           {rss / MB:6.1f} MB  (before the scans {rss_before / MB:.1f} MB; limit 200 MB)")
    print(f"requests the off-site server saw: {offsite}")
    outcomes: dict[str, int] = {}
    for site in mixed.sites:
        key = f"{site.status}" + (f"/{site.reason}" if site.reason else "")
        outcomes[key] = outcomes.get(key, 0) + 1
    print("statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    problems = list(wrong)
    if extra > args.site_deadline:
        problems.append(f"  the hostile sites added {extra:.2f} s, more than the {args.site_deadline:g} s deadline")
    if rss > RSS_LIMIT:
        problems.append(f"  peak RSS {rss / MB:.1f} MB is over 200 MB")
    if offsite:
        problems.append(f"  the off-site server saw {offsite} request(s)")
    if problems:
        print("PROBLEMS:\n" + "\n".join(problems))
        return 1
    print("every site ended in the status the truth demands")
    return 0


if __name__ == "__main__":
    sys.exit(main())
