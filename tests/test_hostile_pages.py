"""Hostile pages that once won: each answered on a real socket on 127.0.0.1, and none may yield "not listed",
a traceback, a hang past the site deadline, or a lost finished site."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from aiohttp import web
from conftest import FIXTURES, fast_options, run_scan
from servers import Canned, LocalServer

from exposure.models import Outcome, Status
from exposure.profile import Profile
from exposure.rules import Rule, load_rule

PROFILE = FIXTURES / "profiles" / "default.toml"

RULE = """
id = "{id}"
name = "Site {id}"
domain = "{host}"
delay = 0.0
[[searches]]
kind = "name"
url = "{base}/name/{{first|lower}}-{{last|lower}}"
[[pages.no_results]]
selector = "#nothing"
{pages}
[extract]
listing = ".card"
expect = ["age"]
{extract}
[extract.fields]
name = ".name"
age = ".age"
location = ".loc"
{detail}
[opt_out]
url = "{base}/optout"
"""
DETAIL = """
[extract.detail]
link = "a.more@href"
[extract.detail.fields]
phones = ".phones li"
"""
NO_RESULTS = "<html><body><div id='nothing'>No records found.</div></body></html>"
JANE = (
    '<div class="card"><h2 class="name">Jane M Testwood</h2><span class="age">Age 47</span>'
    '<span class="loc">Springfield, IL</span><a class="more" href="/person/jane">View</a></div>'
)
BARE = '<div class="card"><h2 class="name">Jane Testwood</h2><span class="age">Age 47</span>{link}</div>'


def page(body: str, title: str = "Results") -> str:
    return f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"


def rule(tmp: Path, server: LocalServer, rule_id: str = "site", **parts: str) -> Rule:
    host = server.base.removeprefix("http://")
    values = {"pages": "", "extract": "", "detail": "", **parts}
    path = tmp / f"{rule_id}.toml"
    path.write_text(textwrap.dedent(RULE.format(id=rule_id, host=host, base=server.base, **values)))
    return load_rule(path)


# ------------------------------------------------------------------ 1. detail pages are classified


async def _to_home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/")


DETAIL_ANSWERS = {
    "cloudflare": {
        "/person/j": Canned(
            "<html><head><title>Just a moment...</title></head><body></body></html>", 200, {"cf-mitigated": "challenge"}
        )
    },
    "login-wall": {
        "/person/j": Canned(page("<p>Please sign in to see this record.</p><div class='g-recaptcha'></div>", "Sign in"))
    },
    "rate-limit": {"/person/j": Canned(page("<h1>Rate Limit Exceeded</h1><p>Try again in an hour.</p>", "Oops"))},
    "redirect-home": {"/person/j": _to_home, "/": Canned(page("<p>Welcome to the site</p>", "Home"))},
}


@pytest.mark.parametrize("answer", list(DETAIL_ANSWERS))
def test_a_detail_page_that_is_not_the_persons_page_is_never_not_listed(
    tmp_path: Path, profile: Profile, answer: str
) -> None:
    # the card shows Jane's name and an age that fits, nothing else: only her page could settle it
    card = BARE.format(link='<a class="more" href="/person/j">x</a>')
    routes = {"/name/jane-testwood": Canned(page(card)), **DETAIL_ANSWERS[answer]}
    with LocalServer(routes, fallback=Canned(page(NO_RESULTS))) as server:  # type: ignore[arg-type]
        result = run_scan(profile, [rule(tmp_path, server, detail=DETAIL)]).sites[0]
    assert result.status is Status.COULD_NOT_CHECK, (result.status, result.reason, result.detail)
    assert len(result.unconfirmed) == 1
    detail_queries = [q for q in result.queries if q.query.label.startswith("detail page")]
    assert detail_queries and detail_queries[0].outcome is not Outcome.RESULTS


def test_a_persons_page_is_read(tmp_path: Path, profile: Profile) -> None:
    routes = {
        "/name/jane-testwood": Canned(page(BARE.format(link='<a class="more" href="/person/j">x</a>'))),
        "/person/j": Canned(page("<h1>Jane Testwood</h1><ul class='phones'><li>(217) 555-0142</li></ul>")),
    }
    with LocalServer(routes, fallback=Canned(page(NO_RESULTS))) as server:
        result = run_scan(profile, [rule(tmp_path, server, detail=DETAIL)]).sites[0]
    assert result.status is Status.FOUND


# ------------------------------------------------------------------ 2. size limits


def test_listings_beyond_the_cap_leave_the_site_unchecked(tmp_path: Path, profile: Profile) -> None:
    strangers = "".join(
        f'<div class="card"><h2 class="name">Person {i} Other</h2><span class="age">Age 60</span></div>'
        for i in range(520)
    )
    routes = {"/name/jane-testwood": Canned(page(strangers + JANE))}
    with LocalServer(routes, fallback=Canned(page(NO_RESULTS))) as server:
        result = run_scan(profile, [rule(tmp_path, server)]).sites[0]
    assert result.status is Status.COULD_NOT_CHECK and result.reason is Outcome.SKIPPED, result.detail
    assert "more than 500 listings" in result.detail


def test_a_listing_nested_deeper_than_256_levels_is_still_read(tmp_path: Path, profile: Profile) -> None:
    deep = "<div>" * 300 + JANE + "</div>" * 300
    routes = {"/name/jane-testwood": Canned(page(deep))}
    with LocalServer(routes, fallback=Canned(page(NO_RESULTS))) as server:
        result = run_scan(profile, [rule(tmp_path, server)]).sites[0]
    assert result.status is Status.FOUND, (result.reason, result.detail)


# ------------------------------------------------------------------ 3. nothing blocks the event loop


def test_quadratic_pages_and_a_runaway_rule_regex_end_within_the_site_deadline(
    tmp_path: Path, profile: Profile
) -> None:
    stars = '<div class="card"><h2 class="name">Jane Testwood</h2><p>' + "*" * 65536 + " mail: x@example.com</p></div>"
    titles = "<title" * 200_000
    with (
        LocalServer({"/name/jane-testwood": Canned(page(stars))}) as starry,
        LocalServer(fallback=Canned(titles, 503)) as five_hundred,
        LocalServer(fallback=Canned(page(NO_RESULTS))) as runaway,
        LocalServer({"/name/jane-testwood": Canned(page(JANE))}, fallback=Canned(page(NO_RESULTS))) as listing,
    ):
        redos = '[[pages.blocked]]\nfinal_url = "(a+)+$"'
        rules = [
            rule(tmp_path, starry, "starry"),
            rule(tmp_path, five_hundred, "titles"),
            rule(tmp_path, runaway, "runaway", pages=redos),
            rule(tmp_path, listing, "listing"),
        ]
        rules[2] = rules[2].model_copy(
            update={
                "searches": [rules[2].searches[0].model_copy(update={"url": runaway.base + "/" + "a" * 5000 + "!"})]
            }
        )
        options = fast_options(retries=0)
        options = type(options)(**{**options.__dict__, "site_deadline": 8.0})
        t0 = time.monotonic()
        scanned = run_scan(profile, rules, options)
        took = time.monotonic() - t0
    by_id = {s.site.id: s for s in scanned.sites}
    assert by_id["listing"].status is Status.FOUND
    assert by_id["starry"].status is Status.COULD_NOT_CHECK and by_id["starry"].reason is not Outcome.TIMEOUT
    assert by_id["titles"].status is Status.COULD_NOT_CHECK
    assert by_id["runaway"].status is Status.COULD_NOT_CHECK and by_id["runaway"].reason is Outcome.ERROR
    assert "rule runaway" in by_id["runaway"].detail and "took too long" in by_id["runaway"].detail
    assert took < 8.0


def test_first_ctrl_c_writes_the_finished_sites_within_two_seconds(tmp_path: Path) -> None:
    import asyncio

    stars = '<div class="card"><h2 class="name">Jane Testwood</h2><p>' + "•" * 65536 + " x@example.com</p></div>"

    async def slow_then_hostile(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(1.0)
        return web.Response(text=page(stars), content_type="text/html")

    async def very_slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(30)  # still running when Ctrl-C comes
        return web.Response(text=page(NO_RESULTS), content_type="text/html")

    with (
        LocalServer({"/name/jane-testwood": Canned(page(JANE))}, fallback=Canned(page(NO_RESULTS))) as listing,
        LocalServer(fallback=slow_then_hostile) as hostile,
        LocalServer(fallback=very_slow) as slow,
    ):
        d = tmp_path / "rules"
        d.mkdir()
        rule(d, listing, "listing")
        rule(d, hostile, "hostile")
        for extra in range(3):
            rule(d, hostile, f"hostile{extra}")
        rule(d, slow, "slow")
        out = tmp_path / "out"
        cmd = [sys.executable, "-m", "exposure.cli", "scan", "--profile", str(PROFILE), "--rules", str(d)]
        cmd += ["--out", str(out), "--format", "json", "--no-progress", "--no-history", "--timeout", "60"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ})
        deadline = time.monotonic() + 20
        while len(hostile.paths) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.1)  # the hostile pages are being read now
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        code = proc.wait(10)
        stopped_in = time.monotonic() - t0
    stdout, stderr = proc.communicate()
    assert code == 130, stdout.decode() + stderr.decode()
    assert stopped_in < 2.0
    (report,) = out.glob("*.json")
    sites = {s["id"]: s for s in json.loads(report.read_text())["sites"]}
    assert sites["listing"]["status"] == "found"
    assert sites["slow"]["reason"] == "interrupted"
    assert b"Traceback" not in stderr


# ------------------------------------------------------------------ 4. one bad link is one bad link


@pytest.mark.parametrize("bad", ["http://[::1", "http://[x]/", "http://[::1]:99999/x"])
def test_a_link_that_does_not_parse_is_ignored(tmp_path: Path, profile: Profile, bad: str) -> None:
    cards = (
        f'<div class="card"><h2 class="name">Jane M Testwood</h2><span class="age">Age 47</span>'
        f'<span class="loc">Springfield, IL</span><a class="more" href="{bad}">View</a></div>'
        f'<a class="next" href="{bad}">Next</a>'
    )
    ld = json.dumps([{"@type": "Person", "name": "Jane Testwood", "url": bad}])
    body = cards + f'<script type="application/ld+json">{ld}</script>'
    embedded = (
        '[extract.embedded]\nscript = "script[type=\'application/ld+json\']"\nlistings = "@"\n'
        'fields = { name = "name" }\nlink = "url"'
    )
    nxt = '[extract.next_page]\nselector = "a.next"'
    routes = {"/name/jane-testwood": Canned(page(body))}
    with LocalServer(routes, fallback=Canned(page(NO_RESULTS))) as server:
        r = rule(tmp_path, server, detail=DETAIL, extract="")
        text = (tmp_path / "site.toml").read_text() + "\n" + nxt + "\n" + embedded + "\n"
        (tmp_path / "site.toml").write_text(text)
        r = load_rule(tmp_path / "site.toml")
        result = run_scan(profile, [r]).sites[0]
    assert result.status is Status.FOUND, (result.reason, result.detail)
    assert any("do not parse" in q.detail for q in result.queries)


def test_a_rule_with_a_malformed_opt_out_url_is_refused(tmp_path: Path) -> None:
    from exposure.errors import RuleError

    with LocalServer() as server:
        rule(tmp_path, server, "bad")
    path = tmp_path / "bad.toml"
    text = path.read_text()
    path.write_text(text[: text.index("[opt_out]")] + '[opt_out]\nurl = "http://[::1"\n')
    with pytest.raises(RuleError, match=r"opt_out\.url"):
        load_rule(path)
