"""Instructions a page's reading costs, counted by valgrind: a measure of the analysis that the machine's
speed does not move. Run by hand from the repository root (needs `valgrind`, Debian's package):

    .venv/bin/python benchmarks/instructions.py [--sites 40] [--passes 2]

Why: this project's 2-core VM ran the same code up to 45% slower from one hour to the next (benchmarks/README.md), so
a change worth 1-5% of a page's reading could not be told from the noise by timing it, even alternating. Valgrind's
callgrind counts the instructions executed, whatever else the machine does: runs of the same code in one sitting agree
within 0.2% (between sittings an hour apart it moved by up to 1.2%, so compare versions side by side). The pages are
the ones `scan.py` measures the machine's speed on (the first `--sites` sites' search pages, gzipped as a scan gets
them, every page's names and addresses new to the reader on each pass), rendered for a fixed date so that counts from
different days compare. The program runs twice under callgrind, with no pass and with `--passes` passes, both at once:
the difference is the reading alone, without imports, rule loading and rendering. About a minute and a half. Compare
two versions of the code by running the script in each checkout.

Instructions are not time: a cache miss or a branch mispredicted costs more than an instruction, so confirm a change
that counts as large with timings too. But a change that does not lower the count does not make reading faster.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
DAY = date(2026, 12, 1)  # fixed: the pages (ages, years) and so the counts do not change from day to day
SEED = 7
COLLECTED = re.compile(rb"Collected\s*:\s*(\d+)")


def read_pages(sites: int, passes: int) -> None:
    """The program callgrind counts: load the pages, read the first few once (first calls, imports done on use),
    then read them all `passes` times. Prints how many pages and HTML bytes a pass reads, for the parent."""
    sys.path.insert(0, str(HERE))
    from analysis import forget_values
    from scan import PROFILE_PATH, reference_pages

    from exposure.profile import load_profile

    analyzer, pages, html_bytes = reference_pages(load_profile(PROFILE_PATH), DAY, SEED, sites)
    for page, rule_id in pages[:10]:
        analyzer.results(page, rule_id, page.url)
    for _ in range(passes):
        forget_values()
        for page, rule_id in pages:
            analyzer.results(page, rule_id, page.url)
    print(len(pages), html_bytes)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sites", type=int, default=40, help="how many sites' search pages to read")
    ap.add_argument("--passes", type=int, default=2, help="passes over the pages in the counted run")
    ap.add_argument("--inner", type=int, metavar="PASSES", help=argparse.SUPPRESS)  # the program under valgrind
    args = ap.parse_args(argv)
    if args.inner is not None:
        read_pages(args.sites, args.inner)
        return 0
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # set and dict order the same in every run
    runs = [
        subprocess.Popen(
            [
                valgrind,
                "--tool=callgrind",
                "--callgrind-out-file=/dev/null",
                sys.executable,
                __file__,
                "--sites",
                str(args.sites),
                "--inner",
                str(passes),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for passes in (0, args.passes)
    ]
    counts = []
    for run in runs:
        out, err = run.communicate()
        found = COLLECTED.search(err)
        if run.returncode != 0 or found is None:
            print(err.decode(errors="replace")[-2000:], file=sys.stderr)
            return 1
        counts.append(int(found.group(1)))
    pages, html_bytes = (int(n) for n in out.split())  # the same pages in both runs
    per_page = (counts[1] - counts[0]) / (pages * args.passes)
    print(
        f"{pages} pages ({html_bytes / 1e6:.1f} MB of HTML) read {args.passes} times: "
        f"{per_page / 1e6:.3f} M instructions a page, {per_page * pages / html_bytes:.0f} an HTML byte "
        f"(Python {sys.version.split()[0]})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
