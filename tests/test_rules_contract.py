"""Every bundled rule against its own synthetic fixture pages, and against honeypots.

The pages are served by a real server on 127.0.0.1; requests for the rule's real hosts are routed
there (like curl --connect-to), so the rule's URLs, domain checks and Host headers stay as in life.
A rule without a fixture folder fails here instead of being skipped.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from conftest import FIXTURES, fast_options, run_scan
from servers import Canned, LocalServer

from exposure.models import ExposureKind, Outcome, Status
from exposure.profile import Profile
from exposure.rules import BUNDLED_RULES, Rule, load_catalog

CATALOG = load_catalog([BUNDLED_RULES])
RULES = list(CATALOG.rules)
MANUAL = list(CATALOG.manual)
SITES = FIXTURES / "sites"


def hosts_of(rule: Rule) -> set[str]:
    hosts = set()
    for s in rule.searches:
        for t in filter(None, (s.url, s.url_without_location)):
            hosts.add(urlsplit(t.split("{", 1)[0]).hostname or "")
    for extra in (rule.manual_url,):
        if extra:
            hosts.add(urlsplit(extra).hostname or "")
    return {h for h in hosts if h}


def fixture_server(folder: Path, scenario: dict[str, Any]) -> LocalServer:
    page_file = folder / scenario["file"]
    status = int(scenario.get("http_status", 200))
    redirect_to = scenario.get("redirect_to", "")

    async def serve(request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/fixture/"):
            f = folder / path.removeprefix("/fixture/")
            if f.is_file() and f.resolve().parent == folder.resolve():
                return web.Response(body=f.read_bytes(), content_type="text/html", charset="utf-8")
            return web.Response(status=404, text="no such fixture")
        if redirect_to and path != redirect_to:
            raise web.HTTPFound(redirect_to)
        return web.Response(body=page_file.read_bytes(), status=status, content_type="text/html", charset="utf-8")

    return LocalServer(fallback=serve)


def scan_against(rule: Rule, server: LocalServer, profile: Profile) -> Any:
    target = server.base.removeprefix("http://")
    options = fast_options(connect_to={h: target for h in hosts_of(rule)}, retries=0)
    return run_scan(profile, [rule], options).sites[0]


def test_catalog_is_not_empty() -> None:
    assert len(RULES) >= 3


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_has_fixtures(rule: Rule) -> None:
    folder = SITES / rule.id
    assert (folder / "expect.toml").is_file(), f"rule {rule.id} has no fixture folder {folder}"
    expect = tomllib.loads((folder / "expect.toml").read_text())
    for scenario in ("results", "no_results"):
        assert scenario in expect, f"{folder}/expect.toml lacks [{scenario}]"
        assert (folder / expect[scenario]["file"]).is_file()
    assert rule.source.checked and rule.source.urls, f"rule {rule.id} must say where its facts came from"
    assert rule.opt_out is not None, f"rule {rule.id} must say how to opt out"
    assert rule.extract.expect, f"rule {rule.id} must say which fields its listings always show (extract.expect)"
    assert rule.registry.california is not None, f"rule {rule.id} must say whether it is in the CA registry"


@pytest.mark.parametrize("entry", MANUAL, ids=[m.id for m in MANUAL])
def test_by_hand_entry_is_complete(entry: Any) -> None:
    assert entry.manual_url and entry.why, f"{entry.id}: a by-hand entry says where to search and why by hand"
    assert entry.source.checked and entry.source.urls, f"{entry.id} must say where its facts came from"
    assert entry.opt_out.url and entry.opt_out.steps, f"{entry.id} must say how to opt out"
    assert entry.registry.california is not None, f"{entry.id} must say whether it is in the CA registry"
    assert not (SITES / entry.id).exists() or (SITES / entry.id / "expect.toml").exists()


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_finds_the_user_on_its_results_fixture(rule: Rule, profile: Profile) -> None:
    folder = SITES / rule.id
    expect = tomllib.loads((folder / "expect.toml").read_text())["results"]
    with fixture_server(folder, expect) as server:
        result = scan_against(rule, server, profile)
    assert result.status.value == expect["site_status"], (result.reason, result.detail)
    assert len(result.user_listings) == expect["user_listings"]
    assert len(result.namesakes) == expect.get("namesakes", 0)
    shown = {e.kind.value for v in result.user_listings for e in v.exposed if e.matches_profile}
    missing = set(expect.get("exposed", [])) - shown
    assert not missing, f"expected exposures not found: {missing}"
    for v in result.user_listings:
        assert v.reasons and v.confidence > 0.5


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_recognises_its_no_results_fixture(rule: Rule, profile: Profile) -> None:
    folder = SITES / rule.id
    expect = tomllib.loads((folder / "expect.toml").read_text())["no_results"]
    with fixture_server(folder, expect) as server:
        result = scan_against(rule, server, profile)
    assert result.status.value == expect.get("site_status", "not_found"), (result.reason, result.detail)
    assert result.status is Status.NOT_FOUND
    assert {q.outcome for q in result.queries} == {Outcome.NO_RESULTS}


HONEYPOTS = {
    "homepage": Canned(
        "<html><head><title>Welcome</title></head><body><h1>Find anyone</h1>"
        "<form><input name=q></form><p>Search 300 million records.</p></body></html>"
    ),
    "empty": Canned(""),
    "generic-404": Canned("<html><head><title>404 Not Found</title></head><body>Not Found</body></html>", 404),
    "login-wall": Canned(
        "<html><head><title>Sign in</title></head><body><p>Please sign in to continue.</p>"
        "<div class='g-recaptcha'></div></body></html>"
    ),
    "cloudflare": Canned(
        "<html><head><title>Just a moment...</title></head><body></body></html>", 403, {"cf-mitigated": "challenge"}
    ),
    "json-garbage": Canned('{"error": "bad request"}', content_type="application/json"),
}


@pytest.mark.parametrize("honeypot", list(HONEYPOTS))
@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_never_says_not_found_on_a_honeypot(rule: Rule, honeypot: str, profile: Profile) -> None:
    with LocalServer(fallback=HONEYPOTS[honeypot]) as server:
        result = scan_against(rule, server, profile)
    assert result.status is Status.COULD_NOT_CHECK, f"{rule.id} read a {honeypot} page as {result.status}"
    assert not any(e.kind is ExposureKind.NAME for v in result.user_listings for e in v.exposed)
