"""The whole scan over real HTTP on 127.0.0.1: every rule capability and every page class."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import fast_options, run_scan
from servers import Canned, LocalServer

from exposure.fetch import scan_concurrency
from exposure.models import ExposureKind, Outcome, Status
from exposure.profile import Profile
from exposure.rules import Rule, load_rule

JANE_CARD = """
<div class="card"><h2 class="name">Jane M Testwood</h2><span class="age">Age 47</span>
<div class="loc">Springfield, IL</div><a class="more" href="/person/jane-1">View details</a></div>"""
NAMESAKE_CARD = """
<div class="card"><h2 class="name">Jane Testwood</h2><span class="age">Age 31</span>
<div class="loc">Tucson, AZ</div><a class="more" href="/person/jane-2">View details</a></div>"""
DETAIL_1 = """<html><body><h1>Jane M Testwood</h1><ul class="phones"><li>(217) 555-0142</li></ul>
<div class="addr">412 North Walnut Street #3, Springfield, IL 62702</div>
<div class="rel">Robert Testwood</div></body></html>"""
NO_RESULTS = "<html><body><div id='nothing'>We found no records for that name.</div></body></html>"


def page(body: str, title: str = "Results") -> str:
    return f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"


def write_rule(tmp: Path, rule_id: str, body: str) -> Rule:
    path = tmp / f"{rule_id}.toml"
    path.write_text(textwrap.dedent(body))
    return load_rule(path)


CARDS_RULE = """
    id = "{id}"
    name = "Cards Site"
    domain = "{host}"
    manual_url = "{base}/search"
    delay = 0.0
    [[searches]]
    kind = "name"
    url = "{base}/name/{{first|lower|slug}}-{{last|lower|slug}}/{{state|state_full|lower|slug}}"
    url_without_location = "{base}/name/{{full|slug:_}}"
    [[searches]]
    kind = "phone"
    url = "{base}/phone/{{phone_area}}-{{phone_exchange}}-{{phone_line}}"
    [[pages.no_results]]
    selector = "#nothing"
    [[pages.blocked]]
    title = ["Stop right there"]
    [extract]
    listing = ".card"
    [extract.fields]
    name = ".name"
    age = ".age"
    location = ".loc"
    [extract.detail]
    link = "a.more@href"
    fields = {{ phones = ".phones li", addresses = ".addr", relatives = ".rel" }}
    [extract.next_page]
    selector = "a.next"
    max_pages = 2
    [opt_out]
    url = "{base}/optout"
    method = "web form"
    requires = ["listing URL", "email address"]
    steps = "Find your listing, paste its URL, confirm by email."
    days = 3
    covers = ["sister.example"]
"""


@pytest.fixture
def cards_site() -> LocalServer:
    routes = {
        "/name/jane-testwood/illinois": Canned(
            page(NAMESAKE_CARD + '<a class="next" href="/name/jane-testwood/illinois?p=2">Next</a>')
        ),
        "/name/jane-testwood/illinois?p=2": Canned(
            page(JANE_CARD + '<a class="next" href="/name/jane-testwood/illinois?p=3">Next</a>')
        ),
        "/name/jane-testwood/illinois?p=3": Canned(page("<p>should never be fetched: max_pages = 2</p>")),
        "/person/jane-1": Canned(DETAIL_1),
        "/person/jane-2": Canned(page("<h1>Jane Testwood</h1><ul class='phones'><li>(520) 555-0199</li></ul>")),
    }
    with LocalServer(routes, fallback=Canned(page(NO_RESULTS), status=404)) as server:
        yield server


def test_found_via_next_page_and_detail_hop(tmp_path: Path, profile: Profile, cards_site: LocalServer) -> None:
    host = cards_site.base.removeprefix("http://")
    rule = write_rule(tmp_path, "cards", CARDS_RULE.format(id="cards", host=host, base=cards_site.base))
    result = run_scan(profile, [rule]).sites[0]

    assert result.status is Status.FOUND
    mine = result.user_listings
    assert len(mine) == 1 and mine[0].listing.url == f"{cards_site.base}/person/jane-1"
    shown = {(e.kind, e.matches_profile) for e in mine[0].exposed}
    assert (ExposureKind.PHONE, True) in shown and (ExposureKind.ADDRESS, True) in shown
    assert (ExposureKind.RELATIVE, True) in shown and (ExposureKind.AGE, True) in shown
    assert any("phone (217) 555-0142 matches" in r for r in mine[0].reasons)
    # the namesake in Tucson is kept apart and never counted
    assert [v.listing.url for v in result.namesakes] == [f"{cards_site.base}/person/jane-2"]
    # transforms: lower+slug, state_full+slug, slug with "_" separator, phone parts
    assert "/name/jane-testwood/illinois" in cards_site.paths
    assert "/name/Jane_Testwood" in cards_site.paths
    assert "/phone/217-555-0142" in cards_site.paths and "/phone/312-555-0188" in cards_site.paths
    # next page followed up to the cap, and no URL fetched twice
    assert "/name/jane-testwood/illinois?p=3" not in cards_site.paths
    assert len(cards_site.paths) == len(set(cards_site.paths))
    # the namesake's detail page is not worth a visit only when the name does not match; here it does
    assert result.opt_out is not None and result.opt_out.covers == ("sister.example",)


def test_no_results_everywhere_is_not_found(tmp_path: Path, profile: Profile) -> None:
    with LocalServer(fallback=Canned(page(NO_RESULTS), status=404)) as server:
        host = server.base.removeprefix("http://")
        rule = write_rule(tmp_path, "cards", CARDS_RULE.format(id="cards", host=host, base=server.base))
        result = run_scan(profile, [rule]).sites[0]
    assert result.status is Status.NOT_FOUND and result.reason is None
    assert {q.outcome for q in result.queries} == {Outcome.NO_RESULTS}


def test_the_scan_picks_its_own_request_limit_when_none_is_set(tmp_path: Path, profile: Profile) -> None:
    # a limit of 0 (the command line's default) is the scan's own choice, from the number of sites; one set is kept
    with LocalServer(fallback=Canned(page(NO_RESULTS), status=404)) as server:
        host = server.base.removeprefix("http://")
        rule = write_rule(tmp_path, "cards", CARDS_RULE.format(id="cards", host=host, base=server.base))
        chosen = run_scan(profile, [rule], fast_options(concurrency=0))
        kept = run_scan(profile, [rule], fast_options(concurrency=3))
    assert chosen.sites[0].status is Status.NOT_FOUND and chosen.extra["concurrency"] == "32"
    assert kept.sites[0].status is Status.NOT_FOUND and kept.extra["concurrency"] == "3"
    assert [scan_concurrency(n) for n in (1, 200, 500, 1000, 5000)] == [32, 32, 62, 125, 128]


def test_namesakes_only_is_not_found(tmp_path: Path, profile: Profile) -> None:
    routes = {
        "/name/jane-testwood/illinois": Canned(page(NAMESAKE_CARD)),
        "/person/jane-2": Canned(page("<h1>Jane Testwood</h1>")),
    }
    with LocalServer(routes, fallback=Canned(page(NO_RESULTS))) as server:
        host = server.base.removeprefix("http://")
        rule = write_rule(tmp_path, "cards", CARDS_RULE.format(id="cards", host=host, base=server.base))
        result = run_scan(profile, [rule]).sites[0]
    assert result.status is Status.NOT_FOUND
    assert len(result.namesakes) == 1 and not result.user_listings


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Canned(page("<p>Welcome! Search millions of records.</p>", "Home")), Outcome.UNRECOGNIZED),
        (Canned(page("<p>hold on</p>", "Stop right there")), Outcome.BLOCKED),  # the rule's own block page
        (Canned("<title>Just a moment...</title>", 403, {"cf-mitigated": "challenge"}), Outcome.BLOCKED),
        (Canned("slow down", 429, {"Retry-After": "3600"}), Outcome.RATE_LIMITED),
        (Canned("oops", 500), Outcome.ERROR),
        (Canned(b"\x89PNG\r\n", 200, content_type="image/png"), Outcome.UNRECOGNIZED),
        (Canned(page("<p>gone</p>", "Not here"), 404), Outcome.UNRECOGNIZED),
    ],
)
def test_failures_are_could_not_check(tmp_path: Path, profile: Profile, answer: Canned, reason: Outcome) -> None:
    with LocalServer(fallback=answer) as server:
        host = server.base.removeprefix("http://")
        rule = write_rule(tmp_path, "cards", CARDS_RULE.format(id="cards", host=host, base=server.base))
        result = run_scan(profile, [rule]).sites[0]
    assert result.status is Status.COULD_NOT_CHECK
    assert result.reason is reason
    assert all(q.outcome is not Outcome.NO_RESULTS for q in result.queries)


def test_one_no_results_and_one_blocked_query_is_still_could_not_check(tmp_path: Path, profile: Profile) -> None:
    routes = {"/phone/217-555-0142": Canned("<title>Just a moment...</title>", 403, {"cf-mitigated": "challenge"})}
    with LocalServer(routes, fallback=Canned(page(NO_RESULTS))) as server:
        host = server.base.removeprefix("http://")
        rule = write_rule(tmp_path, "cards", CARDS_RULE.format(id="cards", host=host, base=server.base))
        result = run_scan(profile, [rule]).sites[0]
    assert result.status is Status.COULD_NOT_CHECK and result.reason is Outcome.BLOCKED
    assert "Cloudflare" in result.detail


def test_timeout_is_could_not_check(tmp_path: Path, profile: Profile) -> None:
    import asyncio

    from aiohttp import web

    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(3)
        return web.Response(text="late")

    with LocalServer(fallback=slow) as server:
        host = server.base.removeprefix("http://")
        rule = write_rule(tmp_path, "cards", CARDS_RULE.format(id="cards", host=host, base=server.base))
        result = run_scan(profile, [rule], fast_options(timeout=0.5)).sites[0]
    assert result.status is Status.COULD_NOT_CHECK and result.reason is Outcome.TIMEOUT


JSONLD_RULE = """
    id = "jsonld"
    name = "JSON-LD Site"
    domain = "{host}"
    [[searches]]
    kind = "email"
    url = "{base}/email?q={{email|urlencode}}"
    [[searches]]
    kind = "address"
    url = "{base}/addr/{{street|slug}}/{{city|upper}}-{{state|lower}}/{{zip}}"
    [[pages.no_results]]
    final_url = "/no-results$"
    [extract.embedded]
    script = "script[type='application/ld+json']"
    listings = "itemListElement[].item"
    link = "url"
    fields = {{ name = "name", phones = "telephone", emails = "email", addresses = "address", age = "age" }}
"""


def test_embedded_json_ld_and_redirect_no_results(tmp_path: Path, profile: Profile) -> None:
    people = {
        "@context": "https://schema.org",
        "@type": "ItemList",
        "itemListElement": [
            {
                "item": {
                    "@type": "Person",
                    "name": "Janie Testwood",
                    "url": "/p/9",
                    "email": "Jane.Testwood@Example.com",
                    "address": {
                        "@type": "PostalAddress",
                        "streetAddress": "88 Lakeview Terrace",
                        "addressLocality": "Evanston",
                        "addressRegion": "IL",
                    },
                }
            },
            {"item": {"@type": "Person", "name": "Paul Other", "url": "/p/10", "telephone": "555-0100"}},
        ],
    }
    html = page(f'<script type="application/ld+json">{json.dumps(people)}</script><p>2 people</p>')

    async def redirect(request: object) -> object:
        from aiohttp import web

        raise web.HTTPFound("/no-results")

    routes = {"/email?q=jane.testwood@example.com": Canned(html), "/no-results": Canned(page("<p>Nobody.</p>"))}
    with LocalServer(routes, fallback=redirect) as server:  # type: ignore[arg-type]
        host = server.base.removeprefix("http://")
        rule = write_rule(tmp_path, "jsonld", JSONLD_RULE.format(host=host, base=server.base))
        result = run_scan(profile, [rule]).sites[0]
        paths = server.paths
    assert "/addr/412-N-Walnut-St/SPRINGFIELD-il/62702" in paths
    assert result.status is Status.FOUND
    (mine,) = result.user_listings
    assert mine.listing.url.endswith("/p/9") and mine.is_user
    outcomes = sorted(q.outcome.value for q in result.queries)
    assert outcomes == ["no_results", "no_results", "results"]


NEXT_DATA_RULE = """
    id = "nextdata"
    name = "Next Data Site"
    domain = "{host}"
    [[searches]]
    kind = "name"
    url = "{base}/search?fn={{first|urlencode}}&ln={{last|urlencode}}&st={{state|upper}}"
    [[pages.no_results]]
    text = ["0 results"]
    [extract.embedded]
    script = "script#__NEXT_DATA__"
    listings = "props.pageProps.people"
    link = "profileUrl"
    [extract.embedded.fields]
    name = "fullName"
    age = "age"
    location = "cities"
    phones = "phones[].number"
    relatives = "relatives[].name"
"""


def test_application_json_script_and_namesake_by_age(tmp_path: Path, profile: Profile) -> None:
    data = {
        "props": {
            "pageProps": {
                "people": [
                    {
                        "fullName": "Jane Testwood",
                        "age": 47,
                        "cities": ["Springfield, IL"],
                        "profileUrl": "/p/1",
                        "phones": [{"number": "(312) 555-0188"}],
                        "relatives": [{"name": "Ellen Holloway"}],
                    },
                    {
                        "fullName": "Jane Testwood",
                        "age": 62,
                        "cities": ["Peoria, IL"],
                        "profileUrl": "/p/2",
                        "phones": [],
                    },
                ]
            }
        }
    }
    html = page(f'<script id="__NEXT_DATA__" type="application/json">{json.dumps(data)}</script>')
    with LocalServer({"/search?fn=Jane&ln=Testwood&st=IL": Canned(html)}, fallback=Canned(page("0 results"))) as s:
        host = s.base.removeprefix("http://")
        rule = write_rule(tmp_path, "nextdata", NEXT_DATA_RULE.format(host=host, base=s.base))
        result = run_scan(profile, [rule]).sites[0]
    assert result.status is Status.FOUND
    assert [v.listing.url.rsplit("/", 1)[1] for v in result.user_listings] == ["1"]
    (namesake,) = result.namesakes
    assert any("age" in r for r in namesake.reasons)


def test_rule_cannot_leave_its_site(tmp_path: Path, profile: Profile) -> None:
    with LocalServer(fallback=Canned("innocent")) as other:
        routes = {"/name/jane-testwood/illinois": Canned(page(JANE_CARD.replace("/person/jane-1", other.base + "/x")))}
        with LocalServer(routes, fallback=Canned(page(NO_RESULTS))) as server:
            host = server.base.removeprefix("http://")
            rule = write_rule(tmp_path, "cards", CARDS_RULE.format(id="cards", host=host, base=server.base))
            result = run_scan(profile, [rule]).sites[0]
        assert other.requests == []  # the detail link to another site was refused without a request
    detail = [q for q in result.queries if q.query.label.startswith("detail page")]
    assert detail and detail[0].outcome is Outcome.ERROR and "outside the rule's domain" in detail[0].detail
    # a listing whose detail page could not be read leaves the site unproven, never "not found"
    assert result.status is not Status.NOT_FOUND


def test_not_me_listings_are_left_out(tmp_path: Path, profile: Profile) -> None:
    from dataclasses import replace

    routes = {"/name/Jane_Testwood": Canned(page(JANE_CARD)), "/person/jane-1": Canned(DETAIL_1)}
    with LocalServer(routes, fallback=Canned(page(NO_RESULTS))) as server:
        host = server.base.removeprefix("http://")
        rule = write_rule(tmp_path, "cards", CARDS_RULE.format(id="cards", host=host, base=server.base))
        listed = run_scan(profile, [rule]).sites[0]
        assert listed.status is Status.FOUND
        not_me = replace(profile, not_me=frozenset({f"{server.base}/person/jane-1"}))
        result = run_scan(not_me, [rule]).sites[0]
    assert result.status is Status.NOT_FOUND
    assert not result.user_listings and [v.ignored for v in result.verdicts] == [True]


def test_the_same_table_row_found_twice_counts_once(tmp_path: Path, profile: Profile) -> None:
    row = page(JANE_CARD.replace('<a class="more" href="/person/jane-1">View details</a>', "(217) 555-0142"))
    routes = {"/name/Jane_Testwood": Canned(row), "/phone/217-555-0142": Canned(row)}
    with LocalServer(routes, fallback=Canned(page(NO_RESULTS))) as server:
        host = server.base.removeprefix("http://")
        rule = write_rule(tmp_path, "cards", CARDS_RULE.format(id="cards", host=host, base=server.base))
        result = run_scan(profile, [rule]).sites[0]
    assert result.status is Status.FOUND and len(result.user_listings) == 1


def test_same_name_listings_beyond_the_detail_cap_leave_the_site_unproven(tmp_path: Path, profile: Profile) -> None:
    # three Jane Testwoods whose cards show nothing but the name; the rule may open only two detail pages
    cards = "".join(
        f'<div class="card"><h2 class="name">Jane Testwood</h2><a class="more" href="/person/{i}">more</a></div>'
        for i in range(3)
    )
    routes = {"/name/Jane_Testwood": Canned(page(cards))}
    stranger = Canned(page("<h1>Jane Testwood</h1><ul class='phones'><li>(520) 555-0199</li></ul>"))
    with LocalServer(routes, fallback=Canned(page(NO_RESULTS))) as server:
        for i in range(3):
            server.routes[f"/person/{i}"] = stranger
        host = server.base.removeprefix("http://")
        text = CARDS_RULE.format(id="cards", host=host, base=server.base)
        text = text.replace('link = "a.more@href"', 'link = "a.more@href"\n    max_listings = 2')
        rule = write_rule(tmp_path, "cards", text)
        result = run_scan(profile, [rule]).sites[0]
        opened = [p for p in server.paths if p.startswith("/person/")]
    assert len(opened) == 2
    # the cards show a bare name and the pages no more than a stranger's phone: nothing rules them out
    assert result.status is Status.COULD_NOT_CHECK and result.reason is Outcome.UNCONFIRMED
    assert len(result.unconfirmed) == 3
    skipped = [q for q in result.queries if q.outcome is Outcome.SKIPPED]
    assert skipped and "check the rest by hand" in skipped[0].detail


def test_unread_result_pages_leave_the_site_unproven(tmp_path: Path, profile: Profile) -> None:
    more = '<a class="next" href="/name/Jane_Testwood?p={}">Next</a>'
    routes = {
        "/name/Jane_Testwood": Canned(page(NAMESAKE_CARD + more.format(2))),
        "/name/Jane_Testwood?p=2": Canned(page(NAMESAKE_CARD + more.format(3))),
        "/person/jane-2": Canned(page("<h1>Jane Testwood</h1>")),
    }
    with LocalServer(routes, fallback=Canned(page(NO_RESULTS))) as server:
        host = server.base.removeprefix("http://")
        rule = write_rule(tmp_path, "cards", CARDS_RULE.format(id="cards", host=host, base=server.base))
        result = run_scan(profile, [rule]).sites[0]
        assert "/name/Jane_Testwood?p=3" not in server.paths
    assert result.status is Status.COULD_NOT_CHECK and result.reason is Outcome.SKIPPED
    assert "more result pages than the 2" in result.detail


def test_a_site_gets_at_most_the_stated_number_of_requests(tmp_path: Path, profile: Profile) -> None:
    """The fixture profile makes five searches of this site; with a cap of three, only three requests reach
    the server, the others are never sent, and the site is could_not_check (skipped) saying why."""
    with LocalServer(fallback=Canned(page(NO_RESULTS), status=404)) as server:
        host = server.base.removeprefix("http://")
        rule = write_rule(tmp_path, "cards", CARDS_RULE.format(id="cards", host=host, base=server.base))
        scan = run_scan(profile, [rule], fast_options(max_requests_per_site=3))
        sent = len(server.paths)
    site = scan.sites[0]
    assert sent == 3 and len(site.queries) > 3
    assert site.status is Status.COULD_NOT_CHECK and site.reason is Outcome.SKIPPED
    assert "at most 3 requests to one site" in site.detail
    assert scan.extra["max_requests_per_site"] == "3"


def test_a_listing_found_by_several_searches_is_kept_once_with_every_search_in_order(tmp_path: Path) -> None:
    from exposure.models import Evidence, Listing, Verdict
    from exposure.pipeline import _SiteState

    rule = CARDS_RULE.format(id="cards", host="s.test", base="http://s.test")
    state = _SiteState(write_rule(tmp_path, "cards", rule))
    name = {ExposureKind.NAME: (Evidence("Jane Testwood", "Jane Testwood"),)}

    def reading(found_by: str, url: str = "http://s.test/person/1", **how: bool) -> Verdict:
        listing = Listing(url, "http://s.test/search", name, "Jane Testwood, 47", (found_by,))
        return Verdict(listing, how.get("is_user", False), how.get("namesake", False), 0.5, (), (), **{
            k: v for k, v in how.items() if k not in ("is_user", "namesake")
        })  # fmt: skip

    state.add(reading("by name", unconfirmed=True))
    state.add(reading("by phone", is_user=True))  # says more: it replaces the first reading
    state.add(reading("by name", namesake=True))  # says less: only its search is remembered (already known)
    state.add(reading("by email", namesake=True))
    state.add(reading("by name", url="http://s.test/person/2"))  # a stranger, on a page of their own

    mine, stranger = state.all_verdicts()
    assert mine.is_user and mine.listing.found_by == ("by name", "by phone", "by email")
    assert mine.listing.text  # the user's own listing keeps its text for the report
    assert not stranger.is_user and stranger.listing.found_by == ("by name",)
    assert stranger.listing.text == ""  # anyone else's is not kept


@pytest.mark.parametrize("same_card", [True, False])
def test_a_card_found_again_gets_its_detail_page_read_once(
    tmp_path: Path, profile: Profile, monkeypatch: pytest.MonkeyPatch, same_card: bool
) -> None:
    # the same card, found by name with and without the state and by phone, links to the same page: that page is
    # fetched and read once, and the listing remembers all three searches; a card that shows anything else is
    # read with the page again
    from exposure.analyze import Analyzer

    other = JANE_CARD if same_card else JANE_CARD.replace("Age 47", "Age 48")
    routes = {
        "/name/jane-testwood/illinois": Canned(page(JANE_CARD)),
        "/name/Jane_Testwood": Canned(page(JANE_CARD)),
        "/phone/217-555-0142": Canned(page(other)),
        "/person/jane-1": Canned(DETAIL_1),
    }
    reads: list[str] = []
    real = Analyzer.detail

    def counted(self: Analyzer, page: Any, rule_id: str, listing: Any) -> Any:
        reads.append(page.url)
        return real(self, page, rule_id, listing)

    monkeypatch.setattr(Analyzer, "detail", counted)
    with LocalServer(routes, fallback=Canned(page(NO_RESULTS), status=404)) as server:
        host = server.base.removeprefix("http://")
        rule = write_rule(tmp_path, "cards", CARDS_RULE.format(id="cards", host=host, base=server.base))
        result = run_scan(profile, [rule]).sites[0]
        fetched = server.paths.count("/person/jane-1")

    assert result.status is Status.FOUND and fetched == 1
    assert reads == [f"{server.base}/person/jane-1"] * (1 if same_card else 2)
    (mine,) = result.user_listings
    searches = {f"{server.base}{p}" for p in ("/name/jane-testwood/illinois", "/name/Jane_Testwood")}
    assert searches | {f"{server.base}/phone/217-555-0142"} == set(mine.listing.found_by)
    assert any("phone (217) 555-0142 matches" in r for r in mine.reasons)


def test_a_site_whose_searches_may_reveal_more_requests_is_asked_first(tmp_path: Path, profile: Profile) -> None:
    """With the scan's request slots all taken, the next one goes to the site with most left to do, and that
    counts what a site's unanswered searches may still reveal: a rule with a detail hop will ask for listings'
    own pages once its results are in. Ranked only by the requests already known, the site below with fewer
    searches (and a detail hop) waited behind every search of the site without one: in a big scan such sites
    were left for seconds, then had their whole chain of pages still to fetch, and finished last."""
    arrivals: list[str] = []

    def recorded(site: str, answer: Canned) -> Any:
        async def handler(request: Any) -> Any:
            arrivals.append(f"{site} {request.path_qs}")
            return await answer(request)

        return handler

    no_results = Canned(page(NO_RESULTS), status=404)
    with (
        LocalServer(fallback=recorded("plain", no_results)) as plain,
        LocalServer(fallback=recorded("detail", no_results)) as detail,
    ):
        phone_search = '    [[searches]]\n    kind = "phone"\n    url = "{base}/phone/{{phone_area}}-'
        detail_hop = '    [extract.detail]\n    link = "a.more@href"\n'
        assert phone_search in CARDS_RULE and detail_hop in CARDS_RULE
        # the same site's rule without its detail hop (all its searches), and with only its searches by name
        known = CARDS_RULE.replace(detail_hop, "").replace("    fields = {{ phones", "    # fields = {{ phones")
        fewer = CARDS_RULE.replace(phone_search, '    # url = "{base}/phone/{{phone_area}}-').replace(
            "    url_without_location", "    # url_without_location"
        )
        plain_rule, detail_rule = (
            write_rule(
                tmp_path, rule_id, text.format(id=rule_id, host=server.base.removeprefix("http://"), base=server.base)
            )
            for rule_id, text, server in (("plain", known, plain), ("detail", fewer, detail))
        )
        result = run_scan(profile, [plain_rule, detail_rule], fast_options(concurrency=1))

    assert [s.status for s in result.sites] == [Status.NOT_FOUND, Status.NOT_FOUND]
    sites = [a.split()[0] for a in arrivals]
    searches = sites.count("detail")  # the profile's names, each with its state
    assert 0 < searches < sites.count("plain") and len(sites) == len(set(arrivals)), arrivals
    # the plain site's first search took the only free slot; the detail site's searches were next
    assert sites[: 1 + searches] == ["plain"] + ["detail"] * searches, arrivals
