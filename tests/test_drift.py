"""Sites change their markup every few months: a page or a listing we did not fully understand must end
"could not check" (or "found" when the user is still recognisable on it), never "not listed".

Each test serves a synthetic results page over real HTTP on 127.0.0.1 that reproduces one kind of drift
seen on real people-search sites in 2025-2026, to a rule written for the older layout.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import run_scan
from servers import Canned, LocalServer

from exposure.classify import DRIFT
from exposure.models import ExposureKind, Outcome, SiteResult, Status
from exposure.profile import Profile
from exposure.rules import Rule, load_rule

# The rule the site "had": one element per field.
OLD_RULE = """
    id = "{id}"
    name = "Drifting Site"
    domain = "{host}"
    delay = 0.0
    [[searches]]
    kind = "name"
    url = "{base}/name/{{first|lower|slug}}-{{last|lower|slug}}"
    [[searches]]
    kind = "address"
    url = "{base}/address/{{street_line|lower|slug}}/{{city|lower|slug}}-{{state|lower}}"
    [[pages.no_results]]
    selector = "#no-results"
    [extract]
    listing = "div.card"
    expect = {expect}
    [extract.fields]
    name = "h2.name"
    age = "span.age"
    location = "{location}"
    relatives = "li.relative"
    {extra}
    [opt_out]
    url = "{base}/optout"
"""
NO_RESULTS = "<div id='no-results'>No records match your search.</div>"


def page(body: str, title: str = "Results") -> str:
    return f"<!doctype html><html><head><title>{title}</title></head><body><main>{body}</main></body></html>"


def scan_site(
    tmp_path: Path,
    profile: Profile,
    routes: dict[str, Canned],
    *,
    expect: str = '["age", "location"]',
    extra: str = "",
    location: str = "span.location",
    fallback: Canned | None = None,
) -> tuple[SiteResult, list[str]]:
    with LocalServer(dict(routes), fallback=fallback or Canned(page(NO_RESULTS))) as server:
        host = server.base.removeprefix("http://")
        text = OLD_RULE.format(id="drift", host=host, base=server.base, expect=expect, extra=extra, location=location)
        path = tmp_path / "drift.toml"
        path.write_text(textwrap.dedent(text))
        rule: Rule = load_rule(path)
        result = run_scan(profile, [rule]).sites[0]
        return result, server.paths


def card(name: str, inner: str, cls: str = "card", attrs: str = "") -> str:
    return f'<div class="{cls}" {attrs}><h2 class="name">{name}</h2>{inner}</div>'


# ------------------------------------------------------------------ a listed person on a drifted page


def test_merged_age_and_place_element_still_finds_the_user(tmp_path: Path, profile: Profile) -> None:
    # "Age 47 • Springfield, IL" in one element: the rule's .age and .location find nothing
    cards = card("Jane M Testwood", '<div class="subtitle">Age 47 • Springfield, IL</div>') + card(
        "Jane Testwood", '<div class="subtitle">Age 31 - Tucson, AZ</div>'
    )
    result, _ = scan_site(tmp_path, profile, {"/name/jane-testwood": Canned(page(cards))})
    assert result.status is Status.FOUND, (result.reason, result.detail)
    [mine] = result.user_listings
    shown = {(e.kind, e.value) for e in mine.exposed if e.matches_profile}
    assert (ExposureKind.AGE, "Age 47") in shown and (ExposureKind.LOCATION, "Springfield, IL") in shown
    assert len(result.namesakes) == 1  # Tucson, 31: contradicted, so a namesake


def test_label_spans_are_read_as_relatives_and_places(tmp_path: Path, profile: Profile) -> None:
    inner = (
        '<div class="meta"><span class="lbl">Age</span> <span>47</span></div>'
        '<div><span class="lbl">Lives in</span> <span>Springfield, IL</span></div>'
        '<div><span class="lbl">Related to</span> <a href="/p/1">Robert Testwood</a>, '
        '<a href="/p/2">Ellen Holl…</a></div>'
        '<div><span class="lbl">Used to live in</span> <span>Evanston, IL</span> <span>Tucson, AZ</span></div>'
    )
    result, _ = scan_site(tmp_path, profile, {"/name/jane-testwood": Canned(page(card("Jane Testwood", inner)))})
    assert result.status is Status.FOUND
    [mine] = result.user_listings
    relatives = {e.value: e for e in mine.exposed if e.kind is ExposureKind.RELATIVE}
    assert relatives["Robert Testwood"].matches_profile
    # cut short on the page: shown as partial, never taken for Ellen Holloway
    assert relatives["Ellen Holl…"].partial and not relatives["Ellen Holl…"].matches_profile
    places = {e.value for e in mine.exposed if e.kind is ExposureKind.LOCATION}
    assert {"Springfield, IL", "Evanston, IL", "Tucson, AZ"} <= places


def test_name_only_card_is_unconfirmed_never_not_found(tmp_path: Path, profile: Profile) -> None:
    # the card drifted to a bare name: nothing confirms it is Jane, nothing rules her out
    result, _ = scan_site(
        tmp_path, profile, {"/name/jane-testwood": Canned(page(card("Jane Testwood", "<p>View report</p>")))}
    )
    assert result.status is Status.COULD_NOT_CHECK
    assert result.reason is Outcome.UNCONFIRMED
    assert "open it and look" in result.detail
    assert len(result.unconfirmed) == 1 and not result.namesakes


def test_data_attribute_links_are_followed(tmp_path: Path, profile: Profile) -> None:
    # the card opens with a script: its page is in data-detail-link, and the rule's a.more finds nothing
    extra = '[extract.detail]\n    link = "a.more@href"\n    [extract.detail.fields]\n    phones = ".phone"'
    cards = card("Jane Testwood", "<span class='age'>Age 47</span>", attrs='data-detail-link="/person/jt-1"')
    routes = {
        "/name/jane-testwood": Canned(page(cards)),
        "/person/jt-1": Canned(page("<h1>Jane Testwood</h1><div class='phone'>(217) 555-0142</div>")),
    }
    result, paths = scan_site(tmp_path, profile, routes, expect='["age"]', extra=extra)
    assert "/person/jt-1" in paths
    assert result.status is Status.FOUND
    assert result.user_listings[0].listing.url.endswith("/person/jt-1")


def test_hidden_duplicate_cards_and_hidden_no_results_box_are_not_read(tmp_path: Path, profile: Profile) -> None:
    mine = card("Jane M Testwood", "<span class='age'>Age 47</span><span class='location'>Springfield, IL</span>")
    tucson = "<span class='age'>Age 31</span><span class='location'>Tucson, AZ</span>"
    hidden = card("Jane Testwood", tucson, "card d-none")
    also_hidden = card("Jane Testwood", "<span class='age'>Age 52</span>", attrs='style="display: none"')
    body = mine + hidden + also_hidden + '<div id="no-results" hidden>No records match your search.</div>'
    result, _ = scan_site(tmp_path, profile, {"/name/jane-testwood": Canned(page(body))})
    assert result.status is Status.FOUND
    assert len(result.verdicts) == 1


def test_hidden_no_results_box_on_an_unreadable_page_is_not_a_no(tmp_path: Path, profile: Profile) -> None:
    # the listing selector no longer matches, and the page keeps a hidden "no results" box: not an answer
    body = (
        '<article class="person-row"><h3>Jane Testwood</h3><p>Age 47 • Springfield, IL</p></article>'
        '<div id="no-results" class="d-none">No records match your search.</div>'
    )
    result, _ = scan_site(tmp_path, profile, {"/name/jane-testwood": Canned(page(body))})
    assert result.status is Status.COULD_NOT_CHECK
    assert result.reason is Outcome.UNRECOGNIZED
    assert DRIFT in result.detail


def test_listings_lacking_expected_fields_make_the_page_unrecognized(tmp_path: Path, profile: Profile) -> None:
    # strangers only, but none of the cards shows the age and the place the rule expects: the site changed
    cards = "".join(card(n, "<p class='x'>View details</p>") for n in ("Mark Dune", "Ann Lee", "Tom Fox"))
    result, _ = scan_site(tmp_path, profile, {"/name/jane-testwood": Canned(page(cards))})
    assert result.status is Status.COULD_NOT_CHECK and result.reason is Outcome.UNRECOGNIZED
    assert DRIFT in result.detail and "age, location" in result.detail


def test_strangers_on_a_page_that_fits_its_rule_are_not_found(tmp_path: Path, profile: Profile) -> None:
    reno = "<span class='age'>Age 60</span><span class='location'>Reno, NV</span>"
    cards = "".join(card(n, reno) for n in ("Mark Dune", "Ann Lee"))
    result, _ = scan_site(tmp_path, profile, {"/name/jane-testwood": Canned(page(cards))})
    assert result.status is Status.NOT_FOUND, (result.reason, result.detail)


def test_field_selector_never_matches_the_listing_itself(tmp_path: Path, profile: Profile) -> None:
    # location = "div" on a div.card: cssselect's descendant-or-self would read the whole card as a place
    body = card("Jane Testwood", "<span class='age'>Age 47</span><div>Springfield, IL</div>")
    routes = {"/name/jane-testwood": Canned(page(body))}
    result, _ = scan_site(tmp_path, profile, routes, location="div")
    places = [e.value for v in result.verdicts for e in v.exposed if e.kind is ExposureKind.LOCATION]
    assert places == ["Springfield, IL"]
    assert result.status is Status.FOUND


def test_place_label_is_not_part_of_the_city(tmp_path: Path, profile: Profile) -> None:
    lives = "<span class='age'>Age 47</span><span class='location'>Lives in Springfield, IL</span>"
    body = card("Jane Testwood", lives)
    result, _ = scan_site(tmp_path, profile, {"/name/jane-testwood": Canned(page(body))})
    assert result.status is Status.FOUND
    body = card("Jane Testwood", "<span class='age'>Age 47</span><span class='location'>LIVES IN SPRINGFIELD</span>")
    result, _ = scan_site(tmp_path, profile, {"/name/jane-testwood": Canned(page(body))})
    # a place without a state cannot contradict: unconfirmed at worst, never a namesake
    assert result.status is not Status.NOT_FOUND and not result.namesakes


def test_address_search_keys_the_street_line_with_its_unit(tmp_path: Path, profile: Profile) -> None:
    result, paths = scan_site(tmp_path, profile, {})
    assert "/address/412-n-walnut-st-apt-3/springfield-il" in paths
    assert result.status is Status.NOT_FOUND


@pytest.mark.parametrize(
    "inner",
    [
        "<p>Jane Testwood, 47 years old, lives in Springfield, Illinois</p>",
        "<p>(47) Springfield, IL</p>",
        "<dl><dt>Age:</dt><dd>47</dd><dt>Current address:</dt><dd>Springfield, IL</dd></dl>",
    ],
)
def test_age_and_place_in_other_wordings(tmp_path: Path, profile: Profile, inner: str) -> None:
    result, _ = scan_site(tmp_path, profile, {"/name/jane-testwood": Canned(page(card("Jane Testwood", inner)))})
    assert result.status is Status.FOUND, (result.reason, result.detail, [v.reasons for v in result.verdicts])


MERGE_RULE = """
id = "merge"
name = "Merge Site"
domain = "{host}"
delay = 0.0
[[searches]]
kind = "name"
url = "{base}/name/{{first|lower|slug}}-{{last|lower|slug}}"
[[pages.no_results]]
selector = "#no-results"
[extract]
listing = "div.card"
link = "a.profile@href"
expect = ["age"]
[extract.fields]
name = "h2.name"
age = "span.age"
location = "span.location"
[extract.embedded]
script = "script[type='application/ld+json']"
listings = "@"
fields = {{ name = "name", addresses = "address" }}
link = "url"
[opt_out]
url = "{base}/optout"
"""


def test_a_card_and_its_json_record_with_one_url_are_one_listing(tmp_path: Path, profile: Profile) -> None:
    # the card shows the age and the city, the JSON-LD record of the same person her street: one listing
    import json as _json

    ld = _json.dumps(
        [
            {
                "@type": "Person",
                "name": "Jane Testwood",
                "url": "/p/jt-1",
                "address": "412 N Walnut St Apt 3, Springfield, IL 62702",
            }
        ]
    )
    body = (
        '<div class="card"><h2 class="name">Jane Testwood</h2><span class="age">Age 47</span>'
        '<span class="location">Springfield, IL</span><a class="profile" href="/p/jt-1">View</a></div>'
        f'<script type="application/ld+json">{ld}</script>'
    )
    with LocalServer({"/name/jane-testwood": Canned(page(body))}, fallback=Canned(page(NO_RESULTS))) as server:
        path = tmp_path / "merge.toml"
        path.write_text(textwrap.dedent(MERGE_RULE.format(host=server.base.removeprefix("http://"), base=server.base)))
        result = run_scan(profile, [load_rule(path)]).sites[0]
    assert len(result.verdicts) == 1, [v.listing.url for v in result.verdicts]
    [v] = result.verdicts
    kinds = {e.kind for e in v.exposed if e.matches_profile}
    assert {ExposureKind.ADDRESS, ExposureKind.AGE, ExposureKind.LOCATION} <= kinds
    assert v.is_user


def test_past_places_are_read_beside_the_city_a_selector_read(tmp_path: Path, profile: Profile) -> None:
    # the rule reads the current city; the card also lists past places under a label, "City ST" without a
    # comma. Jane has moved to a city her profile does not know: her past city must still count.
    inner = (
        "<span class='age'>Age 47</span><span class='location'>Tulsa, OK</span>"
        "<div><h4>Past Addresses:</h4><a href='/a/1'>Springfield IL</a> • <a href='/a/2'>Peoria IL</a></div>"
    )
    result, _ = scan_site(tmp_path, profile, {"/name/jane-testwood": Canned(page(card("Jane Testwood", inner)))})
    assert result.status is Status.FOUND, [v.reasons for v in result.verdicts]
    places = {e.value for v in result.verdicts for e in v.exposed if e.kind is ExposureKind.LOCATION}
    assert {"Tulsa, OK", "Springfield, IL", "Peoria, IL"} <= places


def test_a_place_list_cut_short_contradicts_nothing(tmp_path: Path, profile: Profile) -> None:
    # no age; the places shown are not Jane's, but the list ends "Peori...": her place may be the hidden one
    inner = "<div><span class='lbl'>Used to live in</span> <span>Tulsa OK, Dallas TX, Peori...</span></div>"
    result, _ = scan_site(tmp_path, profile, {"/name/jane-testwood": Canned(page(card("Jane Testwood", inner)))})
    assert result.status is Status.COULD_NOT_CHECK and result.reason is Outcome.UNCONFIRMED
    assert not result.namesakes
    whole = "<div><span class='lbl'>Used to live in</span> <span>Tulsa OK, Dallas TX</span></div>"
    result, _ = scan_site(tmp_path, profile, {"/name/jane-testwood": Canned(page(card("Jane Testwood", whole)))})
    assert len(result.namesakes) == 1  # the whole list shown, none of it hers: a namesake


def test_relatives_in_nested_spans_stay_apart(tmp_path: Path, profile: Profile) -> None:
    inner = (
        "<span class='age'>Age 47</span><span class='location'>Springfield, IL</span>"
        '<span class="r"><span class="gray">Related to:</span><span class="col"><span class="info">'
        '<span class="nowrap">Ann Dune</span> <span class="nowrap">Ellen Holloway, 71</span> '
        '<span class="nowrap">Robert Testwood, 49</span></span></span></span>'
    )
    routes = {"/name/jane-testwood": Canned(page(card("Jane Testwood", inner)))}
    result, _ = scan_site(tmp_path, profile, routes, extra="")
    rule_text = (tmp_path / "drift.toml").read_text().replace('relatives = "li.relative"\n', "")
    (tmp_path / "drift.toml").write_text(rule_text)
    relatives = [e.value for v in result.verdicts for e in v.exposed if e.kind is ExposureKind.RELATIVE]
    assert relatives == ["Ann Dune", "Ellen Holloway", "Robert Testwood"]


def test_a_street_address_with_city_and_state_without_a_comma_gives_its_place() -> None:
    from exposure.normalize import quick_address

    a = quick_address("1200 Quillmore Ave, Tulsa OK 74103")
    assert a is not None and (a.city, a.state, a.zip) == ("TULSA", "OK", "74103")
