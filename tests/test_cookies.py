"""No cookie crosses sites: a broker's cookie (even one scoped to "Domain=com") never reaches another broker
of the same scan, and only a rule that asks for cookies gets its own site's cookies back."""

from __future__ import annotations

import textwrap
from pathlib import Path

from aiohttp import web
from conftest import fast_options, run_scan
from servers import LocalServer

from exposure.fetch import SiteCookies
from exposure.profile import Profile
from exposure.rules import load_rule

RULE = """
id = "{id}"
name = "{id}"
domain = "{domain}"
delay = 0.0
concurrency = 1
cookies = {cookies}
[[searches]]
kind = "name"
url = "http://www.{domain}/name/{{full|slug}}"
[[searches]]
kind = "phone"
url = "http://www.{domain}/phone/{{phone}}"
[[pages.no_results]]
selector = "#none"
[extract]
listing = ".card"
expect = ["age"]
"""


def cookie_server(seen: list[str]) -> LocalServer:
    async def answer(request: web.Request) -> web.StreamResponse:
        seen.append(request.headers.get("Cookie", ""))
        response = web.Response(text="<html><body><div id='none'>No records found.</div></body></html>")
        response.content_type = "text/html"
        response.headers.add("Set-Cookie", "track=broad; Domain=com; Path=/")
        response.headers.add("Set-Cookie", "visitor=a1; Path=/")
        return response

    return LocalServer(fallback=answer)


def scan_two(tmp_path: Path, profile: Profile, cookies_a: bool) -> tuple[list[str], list[str]]:
    seen_a: list[str] = []
    seen_b: list[str] = []
    with cookie_server(seen_a) as a, cookie_server(seen_b) as b:
        rules = []
        for rule_id, domain, cookies in (("a", "broker-a.com", cookies_a), ("b", "broker-b.com", False)):
            path = tmp_path / f"{rule_id}.toml"
            text = RULE.format(id=rule_id, domain=domain, cookies=str(cookies).lower())
            path.write_text(textwrap.dedent(text))
            rules.append(load_rule(path))
        routes = {
            "www.broker-a.com": a.base.removeprefix("http://"),
            "www.broker-b.com": b.base.removeprefix("http://"),
        }
        run_scan(profile, rules, fast_options(connect_to=routes))
    return seen_a, seen_b


def test_no_cookies_by_default_and_none_cross_sites(tmp_path: Path, profile: Profile) -> None:
    seen_a, seen_b = scan_two(tmp_path, profile, cookies_a=False)
    assert len(seen_a) >= 3 and len(seen_b) >= 3
    assert seen_a == [""] * len(seen_a) and seen_b == [""] * len(seen_b)


def test_a_rule_that_keeps_cookies_gets_only_its_own_back(tmp_path: Path, profile: Profile) -> None:
    seen_a, seen_b = scan_two(tmp_path, profile, cookies_a=True)
    assert seen_a[0] == "" and all(c == "visitor=a1" for c in seen_a[1:]), seen_a
    assert all(c == "" for c in seen_b), seen_b


def test_cookie_scopes_on_a_public_suffix_or_another_site_are_refused() -> None:
    jar = SiteCookies("broker-a.com")
    jar.update(
        [
            "a=1; Domain=com",
            "b=2; Domain=co.uk",
            "c=3; Domain=broker-b.com",
            "d=4; Domain=.broker-a.com",
            "e=5; Domain=www.broker-a.com",
            "f=6",
        ],
        "http://www.broker-a.com/x",
    )
    assert jar.values == {"d": "4", "e": "5", "f": "6"} and jar.refused == 3
