"""What the human-readable reports decide: which URLs may be links, what to do first, plain-word reasons."""

from __future__ import annotations

from dataclasses import replace

import pytest

from exposure.models import ExposureKind, Outcome
from exposure.report.json_report import summary
from exposure.report.view import build, reason_text, safe_url
from report.factory import demo_scan, empty_scan, interrupted_scan, payload_scan


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.example.com/person/jane", "https://www.example.com/person/jane"),
        ("HTTP://Example.COM", "http://example.com/"),
        ("https://example.com:8443/a?b=c&d=e#f", "https://example.com:8443/a?b=c&d=e#f"),
        ("https://example.com/a b", None),  # whitespace: browsers and parsers disagree, so no link
        ('https://example.com/"><script>', "https://example.com/%22%3E%3Cscript%3E"),
        ("https://example.com/it's", "https://example.com/it%27s"),
        ("https://example.com/%E2%9C%93", "https://example.com/%E2%9C%93"),
        ("https://bücher.example/ü", "https://xn--bcher-kva.example/%C3%BC"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
    ],
)
def test_safe_url_rebuilds_http_urls(raw: str, expected: str | None) -> None:
    assert safe_url(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        " javascript:alert(1)",
        "\x01javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "https://a\\@b.example/",
        "https://user:pass@evil.example/",
        "https://user@evil.example/",
        "https://@evil.example/",
        "//evil.example/x",
        "/relative/path",
        "https:evil.example",
        "https:///evil.example",
        "https://evil.example:99999/",
        "https://evil.example:port/",
        "https://ev<il.example/",
        "https://-evil.example/",
        "",
    ],
)
def test_safe_url_refuses_everything_else(raw: str) -> None:
    assert safe_url(raw) is None


def test_summary_numbers_are_the_json_reports() -> None:
    for scan in (demo_scan(), empty_scan(), interrupted_scan(), payload_scan()):
        view = build(scan)
        assert view.summary == summary(scan)
        for line in view.kinds:
            # The sites named for a kind are exactly the ones counted for it.
            assert len(line.sites) == line.count == summary(scan)["exposed_kinds"].get(line.kind.value, 0)


def test_headline_kinds_are_always_named() -> None:
    kinds = [k.kind for k in build(empty_scan()).kinds]
    k = ExposureKind
    assert kinds == [k.ADDRESS, k.PHONE, k.EMAIL, k.RELATIVE, k.AGE]


def test_one_opt_out_covering_sister_sites_is_one_action_and_comes_first() -> None:
    view = build(demo_scan())
    first = view.actions[0]
    assert first.site.name == "PeopleLedger"
    assert [r.name for r in first.removes] == ["PeopleLedger", "LedgerLookup"]
    assert first.has_address
    assert first.shows[0] == "home address"
    # Address-exposing actions come before one that only shows a phone.
    assert [a.site.name for a in view.actions] == ["PeopleLedger", "HomeFinder Records", "CallerCheck"]
    # Every card points at the action that removes it; sister cards share one checklist key.
    keys = {c.result.site.id: c.action.key for c in view.cards}
    assert keys["peopleledger"] == keys["ledgerlookup"] == "peopleledger"
    assert [c.result.site.id for c in view.cards][:2] == ["peopleledger", "ledgerlookup"]


def test_covers_alone_groups_sites_with_different_opt_out_pages() -> None:
    scan = demo_scan()
    ledger, lookup, *rest = scan.sites
    assert ledger.opt_out and lookup.opt_out
    lookup = replace(lookup, opt_out=replace(lookup.opt_out, url="https://ledgerlookup.example/remove", covers=()))
    view = build(replace(scan, sites=(ledger, lookup, *rest)))
    assert [r.name for r in view.actions[0].removes] == ["PeopleLedger", "LedgerLookup"]


def test_a_site_without_an_opt_out_is_still_on_the_checklist() -> None:
    scan = demo_scan()
    caller = scan.sites[2]
    view = build(replace(scan, sites=(replace(caller, opt_out=None),)))
    assert len(view.actions) == 1
    assert view.actions[0].opt_out is None


@pytest.mark.parametrize(
    ("reason", "detail", "words"),
    [
        (Outcome.BLOCKED, "Cloudflare challenge", "blocked our automatic check: blocked by Cloudflare challenge."),
        (Outcome.BLOCKED, "blocked by Cloudflare (8 of 8 requests)", "check: blocked by Cloudflare (8 of 8 requests)."),
        (Outcome.RATE_LIMITED, "", "asked us to slow down (rate limited)."),
        (Outcome.TIMEOUT, "", "took too long to answer (timed out)."),
        (Outcome.UNRECOGNIZED, "", "did not recognise the site's page"),
        (Outcome.ERROR, "connection refused", "could not reach the site: connection refused."),
    ],
)
def test_could_not_check_reasons_are_plain_words(reason: Outcome, detail: str, words: str) -> None:
    site = demo_scan().sites[4]
    assert words in reason_text(replace(site, reason=reason, detail=detail))


def test_interrupted_sites_say_so_and_offer_a_search_by_hand() -> None:
    view = build(interrupted_scan())
    assert view.scan.interrupted
    assert all("stopped before" in u.reason for u in view.unchecked)
    assert all(u.search_by_hand and u.search_by_hand.href for u in view.unchecked)


def test_search_by_hand_prefers_the_manual_page_and_skips_unsafe_urls() -> None:
    view = build(demo_scan())
    by_site = {u.result.site.id: u for u in view.unchecked}
    assert by_site["quickpeople"].search_by_hand.href == "https://www.quickpeople.example/"  # type: ignore[union-attr]
    hostile = build(payload_scan())
    for u in hostile.unchecked:
        assert u.search_by_hand is None or (u.search_by_hand.href or "").startswith("https://")


def test_covers_and_sisters_resolve_by_id_domain_or_name() -> None:
    scan = demo_scan()
    ledger = scan.sites[0]
    info = replace(ledger.site, sister_sites=("LedgerLookup", "https://www.ledgerlookup.example/", "unknown.example"))
    view = build(replace(scan, sites=(replace(ledger, site=info), *scan.sites[1:])))
    card = view.cards[0]
    assert [s.name for s in card.sisters] == ["LedgerLookup", "LedgerLookup", "unknown.example"]
    assert card.sisters[0].anchor and card.sisters[2].anchor is None


def test_anchors_are_safe_whatever_the_site_id() -> None:
    view = build(payload_scan())
    assert view.cards
    for c in view.cards:
        assert c.anchor.replace("-", "").replace("_", "").isalnum(), c.anchor
