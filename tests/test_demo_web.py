"""The bundled demo web answers each demo rule's searches the way the rule expects.

Real HTTP to the demo sites on 127.0.0.1: for every rule, every concrete URL its searches produce
for the demo profile is fetched, and the page must be what the rule says it is (results, no
results, or a challenge), judged with the rule's own selectors and matchers. This is the contract
between the demo pages and the demo rules; the end-to-end scan is tested separately.
"""

from __future__ import annotations

import asyncio
import json
import re
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import jmespath
import pytest
from bs4 import BeautifulSoup

from exposure.demo import DEMO_PROFILE, DemoWeb, DemoWebThread, render_rules
from exposure.demo.people import DEMO_PERSON
from exposure.profile import ProfileFile, load_profile
from exposure.queries import build_queries
from exposure.rules import PageMatcher, Rule, load_rules

FIXTURE_PROFILE = Path(__file__).parent / "fixtures" / "profiles" / "default.toml"

# Which concrete search URLs must find the demo person (lower-cased substrings); every other search
# of that site must get the site's no-results answer. ShieldPages answers everything with a challenge.
EXPECTED_HITS: dict[str, tuple[str, ...]] = {
    "peoplelookup-demo": ("/search?first=margaret&last=calloway&state=wi",),
    "phonebook-ledger-demo": ("/people/calloway/margaret", "/phone/608-555-0117"),
    "clearfind-demo": ("/find/margaret-calloway/wisconsin", "/search/email?q=peggy.calloway%40example.net"),
    "homeroster-demo": ("/address/1207-larkspur-ave/madison-wi",),
    "recordhound-demo": (),
}
ALWAYS_BLOCKED = {"shieldpages-demo"}


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoWebThread]:
    with DemoWebThread() as running:
        yield running


@pytest.fixture(scope="module")
def rules(demo: DemoWebThread, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rule]:
    dest = render_rules(tmp_path_factory.mktemp("demo") / "rules", demo.bases)
    return {rule.id: rule for rule in load_rules([dest])}


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    # trust_env=False: no proxy from the environment may ever see these requests
    with httpx.Client(trust_env=False, timeout=5.0, follow_redirects=True) as c:
        yield c


# ---------------------------------------------------------------- a tiny reading of the rule's matchers


def _soup(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "lxml")


def _visible_text(soup: BeautifulSoup) -> str:
    copy = BeautifulSoup(str(soup), "lxml")
    for tag in copy(["script", "style", "noscript"]):
        tag.decompose()
    return " ".join(copy.get_text(" ").split()).lower()


def _matches(m: PageMatcher, response: httpx.Response, soup: BeautifulSoup) -> bool:
    title = soup.title.get_text() if soup.title else ""
    return all(
        (
            not m.status or response.status_code in m.status,
            m.final_url is None or re.search(m.final_url, str(response.url)) is not None,
            m.selector is None or bool(soup.select(m.selector)),
            not m.text or any(t.lower() in _visible_text(soup) for t in m.text),
            not m.title or any(t.lower() in title.lower() for t in m.title),
            all(re.search(rx, response.headers.get(h, "")) for h, rx in m.header.items()),
        )
    )


def _listings(rule: Rule, soup: BeautifulSoup) -> list[object]:
    found: list[object] = list(soup.select(rule.extract.listing)) if rule.extract.listing else []
    embedded = rule.extract.embedded
    if embedded is not None:
        script = soup.select_one(embedded.script or "script")
        if script is not None and script.string:
            found += jmespath.search(embedded.listings, json.loads(script.string)) or []
    return found


def answer(rule: Rule, response: httpx.Response) -> str:
    soup = _soup(response)
    challenge = response.status_code == 403 and response.headers.get("cf-mitigated") == "challenge"
    if challenge or any(_matches(m, response, soup) for m in rule.pages.blocked):
        return "blocked"
    no_results = any(_matches(m, response, soup) for m in rule.pages.no_results)
    if _listings(rule, soup):
        assert not no_results, f"{response.url}: a results page must not also look like 'no results'"
        return "results"
    return "no_results" if no_results else "unrecognized"


# ---------------------------------------------------------------- the rendered rules


def test_rendered_rules_are_private_and_name_the_running_sites(demo: DemoWebThread, tmp_path: Path) -> None:
    dest = render_rules(tmp_path / "rules", demo.bases)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    files = sorted(dest.glob("*.toml"))
    assert [f.stem for f in files] == sorted(demo.bases)
    hosts = {urlsplit(base).netloc for base in demo.bases.values()}
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name
        text = f.read_text()
        assert "@BASE" not in text and "@HOST" not in text, f.name
    for rule in load_rules([dest]):
        assert rule.domain == urlsplit(demo.bases[rule.id]).netloc
        assert rule.opt_out is not None and rule.opt_out.url.startswith(demo.bases[rule.id] + "/")
        assert set(rule.sister_sites) <= hosts and set(rule.opt_out.covers) <= hosts
        assert rule.id not in rule.sister_sites


def test_an_opt_out_covers_a_sister_site(rules: dict[str, Rule]) -> None:
    covering = {r.id: r.opt_out.covers for r in rules.values() if r.opt_out and r.opt_out.covers}
    assert covering == {
        "peoplelookup-demo": [rules["recordhound-demo"].domain],
        "phonebook-ledger-demo": [rules["clearfind-demo"].domain],
    }
    assert rules["peoplelookup-demo"].parent == rules["recordhound-demo"].parent != ""


def test_rendering_for_a_missing_site_fails(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not running"):
        render_rules(tmp_path / "rules", {"peoplelookup-demo": "http://127.0.0.1:1"})


# ---------------------------------------------------------------- every search of every rule


@pytest.mark.parametrize("site_id", sorted([*EXPECTED_HITS, *ALWAYS_BLOCKED]))
def test_every_search_gets_the_expected_answer(site_id: str, rules: dict[str, Rule], client: httpx.Client) -> None:
    rule = rules[site_id]
    profile = load_profile(DEMO_PROFILE)
    queries = build_queries(profile, rule)
    assert queries, "the demo profile must exercise every demo rule"
    seen = set()
    for query in queries:
        response = client.get(query.url)
        got = answer(rule, response)
        if site_id in ALWAYS_BLOCKED:
            expected = "blocked"
        else:
            expected = "results" if any(h in query.url.lower() for h in EXPECTED_HITS[site_id]) else "no_results"
        assert got == expected, f"{query.label}: {query.url} -> {response.status_code}"
        seen.add(got)
    if EXPECTED_HITS.get(site_id):
        assert seen == {"results", "no_results"}, "each listing site shows both answers in the demo"


def test_every_expected_hit_is_searched(rules: dict[str, Rule]) -> None:
    """The hit table above would pass vacuously if a rule stopped producing one of its URLs."""
    profile = load_profile(DEMO_PROFILE)
    for site_id, hits in EXPECTED_HITS.items():
        urls = [q.url.lower() for q in build_queries(profile, rules[site_id])]
        for hit in hits:
            assert any(hit in u for u in urls), f"{site_id}: no search produces {hit}"


# ---------------------------------------------------------------- site behaviours the demo relies on


def test_peoplelookup_lists_her_on_page_two_behind_a_namesake(demo: DemoWebThread, client: httpx.Client) -> None:
    base = demo.bases["peoplelookup-demo"]
    first = _soup(client.get(f"{base}/search?first=Margaret&last=Calloway&state=WI"))
    cards = [c.get_text(" ", strip=True) for c in first.select("div.result-card")]
    assert any("Green Bay" in c and "Margaret" in c for c in cards)  # the namesake
    assert not any("Madison" in c for c in cards)
    next_link = first.select_one("nav.pager a.next")
    assert next_link is not None
    second = _soup(client.get(base + str(next_link["href"])))
    mine = [c for c in second.select("div.result-card") if "Madison, WI" in c.get_text()]
    assert len(mine) == 1
    assert f"Age {DEMO_PERSON.age}" in mine[0].get_text()
    detail_link = mine[0].select_one("a.view-details")
    assert detail_link is not None
    detail = client.get(base + str(detail_link["href"])).text
    assert "(608) 555-0117" in detail and "peggy.calloway@example.net" in detail and "45 Quarry Hill Rd" in detail


def test_ledger_has_a_masked_teaser_row(demo: DemoWebThread, client: httpx.Client) -> None:
    soup = _soup(client.get(demo.bases["phonebook-ledger-demo"] + "/people/calloway/margaret"))
    rows = soup.select("table.records tbody tr.record")
    names = [r.select_one("td.name").get_text(strip=True) for r in rows]  # type: ignore[union-attr]
    assert "CALLOWAY, Margaret A" in names
    teaser = soup.select_one("tr.record.teaser")
    assert teaser is not None and "(608) 555-01XX" in teaser.get_text()
    assert "555-0163" not in soup.get_text()  # this site never had her second phone


def test_homeroster_redirects_an_unknown_address(demo: DemoWebThread) -> None:
    base = demo.bases["homeroster-demo"]
    with httpx.Client(trust_env=False, timeout=5.0) as c:
        response = c.get(f"{base}/address/45-quarry-hill-rd/rochester-mn")
    assert response.status_code == 302
    assert response.headers["location"].startswith("/no-results")


@pytest.mark.parametrize("path", ["/", "/people/Margaret-Calloway?state=WI", "/optout", "/robots.txt"])
def test_shieldpages_challenges_every_request(demo: DemoWebThread, client: httpx.Client, path: str) -> None:
    response = client.get(demo.bases["shieldpages-demo"] + path)
    assert response.status_code == 403
    assert response.headers["cf-mitigated"] == "challenge"
    assert response.headers["server"] == "cloudflare"
    assert "<title>Just a moment...</title>" in response.text


def test_recordhound_finds_others_but_not_her(demo: DemoWebThread, client: httpx.Client) -> None:
    base = demo.bases["recordhound-demo"]
    assert client.get(f"{base}/name/gerald-calloway").status_code == 200
    missing = client.get(f"{base}/name/margaret-calloway")
    assert missing.status_code == 404 and "No records found" in missing.text


def test_opt_out_and_manual_search_pages_answer(rules: dict[str, Rule], client: httpx.Client) -> None:
    for rule in rules.values():
        if rule.id in ALWAYS_BLOCKED:
            continue
        assert rule.opt_out is not None
        assert client.get(rule.manual_url).status_code == 200, rule.id
        form = client.get(rule.opt_out.url)
        assert form.status_code == 200 and "opt-out-form" in form.text, rule.id
        done = client.post(rule.opt_out.url, data={"email": "someone@example.com", "confirm": "on"})
        assert done.status_code == 200 and "Request received" in done.text, rule.id


def test_home_page_forms_lead_to_the_search_urls(demo: DemoWebThread, client: httpx.Client) -> None:
    b = demo.bases
    assert client.get(f"{b['phonebook-ledger-demo']}/lookup?phone=(608) 555-0117").url.path == "/phone/608-555-0117"
    found = client.get(f"{b['clearfind-demo']}/lookup?name=Margaret Calloway&state=WI")
    assert found.url.path == "/find/margaret-calloway/wisconsin" and "Margaret Ann Calloway" in found.text
    home = client.get(f"{b['homeroster-demo']}/lookup?street=1207 Larkspur Ave&city=Madison&state=WI")
    assert home.url.path == "/address/1207-larkspur-ave/madison-wi"
    assert client.get(f"{b['recordhound-demo']}/lookup?first=Harold&last=Brightwater").status_code == 200


# ---------------------------------------------------------------- the demo person and the server


def test_demo_profile_is_synthetic_and_is_who_the_sites_list() -> None:
    data = ProfileFile.model_validate(tomllib.loads(DEMO_PROFILE.read_text()))
    fixture = ProfileFile.model_validate(tomllib.loads(FIXTURE_PROFILE.read_text()))
    assert data.name != fixture.name and not set(data.phones) & set(fixture.phones)
    assert len(data.aliases) >= 2 and data.birth_year and len(data.addresses) == 2 and len(data.relatives) == 2
    profile = load_profile(DEMO_PROFILE)
    assert all(p[3:6] == "555" and p[6:8] == "01" for p in profile.phones)
    assert all(e.rsplit(".", 2)[-2:][0].endswith("example") for e in profile.emails)
    # the server's idea of her is the profile's
    assert profile.phones == DEMO_PERSON.phones and profile.emails == DEMO_PERSON.emails
    assert data.addresses[0] == DEMO_PERSON.address_line
    assert tuple(data.addresses[1:]) == DEMO_PERSON.past_addresses
    assert tuple(data.aliases) == DEMO_PERSON.aliases and tuple(data.relatives) == DEMO_PERSON.relatives


def test_demo_web_listens_on_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        asyncio.run(DemoWeb().start("0.0.0.0"))


def test_demo_web_closes_its_ports() -> None:
    async def run() -> str:
        web = DemoWeb()
        await web.start()
        base = web.bases["recordhound-demo"]
        await web.close()
        return base

    base = asyncio.run(run())
    with httpx.Client(trust_env=False, timeout=2.0) as c, pytest.raises(httpx.ConnectError):
        c.get(base + "/")
