"""Report wording a reader trips over, in HTML and Markdown alike (issue "What a new user trips over",
item 10): the namesake's name carries no "yours", evidence speaks the reader's words, the summary says which
address is out, a covered card points at the request that removes it, steps are numbered once, "Hide my
details" says what it is for, and long values wrap on a 390 px phone."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import Browser, chromium

from exposure.models import OptOut
from exposure.report.html import HtmlReporter
from exposure.report.markdown import MarkdownReporter
from exposure.report.view import OptOutView, build
from exposure.rules import BUNDLED_RULES, load_catalog
from report.factory import demo_scan


@pytest.fixture(scope="module")
def html() -> str:
    return HtmlReporter().render(demo_scan()).decode()


@pytest.fixture(scope="module")
def md() -> str:
    return MarkdownReporter().render(demo_scan()).decode()


def section(text: str, start: str, end: str) -> str:
    return text[text.index(start) : text.index(end, text.index(start) + len(start))]


def test_a_namesakes_name_carries_no_yours_badge(html: str, md: str) -> None:
    namesakes = section(html, 'id="namesakes"', "</section>")
    assert "Jane Testwood" in namesakes and "tag-yours" not in namesakes
    assert "- Name: Jane Testwood\n" in section(md, "## Possible namesakes", "## ")
    # the reader's own listings still say which values are theirs
    assert "tag-yours" in section(html, 'id="listed"', "</section>")


def test_evidence_uses_the_readers_words_not_field_keys(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "exposure.cli", "demo", "--no-serve", "--out", str(tmp_path), "--format", "markdown",
         "--format", "html", "--no-progress"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for report in tmp_path.iterdir():
        text = report.read_text()
        for key in ("addresses", "phones", "emails", "aliases", "relatives"):
            assert not re.search(rf"[“>`]{key}: ", text), (report.suffix, key)
    md = next(tmp_path.glob("*.md")).read_text()
    assert "Page text: “address: 1207 Larkspur Ave" in md and "Page text: “also known as: Peggy Calloway" in md


def test_the_summary_says_which_of_your_addresses_is_out(html: str, md: str) -> None:
    assert "- Home address: your current address, 412 N Walnut St Apt 3, and 1 past address, on 3 sites" in md
    kinds = section(html, 'class="kinds"', "</ul>")
    assert "Your current address, 412 N Walnut St Apt 3, and 1 past address" in kinds


def test_a_card_covered_by_a_sister_sites_request_points_at_that_request(html: str, md: str) -> None:
    card = section(html, 'id="site-1-ledgerlookup"', "</article>")
    assert "Open the PeopleLedger opt-out page" in card and "Open the LedgerLookup opt-out page" not in card
    # its days are the request's, as in the checklist
    assert "Usually takes about 3 days" in card
    checklist = section(html, 'id="checklist"', "</section>")
    assert "usually takes about 3 days" in checklist
    ledgerlookup = section(md, "### LedgerLookup", "### ")
    assert "The same request as for PeopleLedger removes you from this site too" in ledgerlookup
    assert "PeopleLedger's opt-out: <https://www.peopleledger.example/optout>" in ledgerlookup


def test_a_covered_cards_days_follow_the_covering_request() -> None:
    from dataclasses import replace

    scan = demo_scan()
    sites = list(scan.sites)
    lookup = next(i for i, s in enumerate(sites) if s.site.id == "ledgerlookup")
    own = sites[lookup].opt_out
    assert own is not None
    sites[lookup] = replace(sites[lookup], opt_out=replace(own, url="https://ledgerlookup.example/own", days=14))
    view = build(replace(scan, sites=tuple(sites)))
    card = next(c for c in view.cards if c.result.site.id == "ledgerlookup")
    assert card.covered and card.next_opt_out is card.action.opt_out and card.next_opt_out is not None
    assert card.next_opt_out.days == 3
    page = HtmlReporter().render(replace(scan, sites=tuple(sites))).decode()
    article = section(page, f'id="{card.anchor}"', "</article>")
    assert "about 14 days" not in article and "its opt-out page" in article


def test_steps_a_rule_numbers_are_numbered_once(html: str, md: str) -> None:
    assert not re.search(r"^\d+\. \d+\. ", md, re.M)
    assert "<li>1. " not in html and "<li>Search for your name on the opt-out page.</li>" in html
    catalog = load_catalog([BUNDLED_RULES])
    numbered = 0
    for rule in catalog.rules:
        o: OptOut = rule.opt_out_info()
        steps = OptOutView(None, o.method, o.requires, o.steps, o.days, ()).step_list  # type: ignore[arg-type]
        numbered += o.steps.lstrip().startswith("1.")
        assert not any(re.match(r"\d+[.)] ", s) for s in steps), rule.id
        if o.steps.lstrip().startswith("1."):  # wrapped lines stay in their step
            assert len(steps) == len(re.findall(r"^\s*\d+[.)] ", o.steps, re.M)), rule.id
    assert numbered  # the bundled catalog does number its steps


def test_hide_my_details_says_what_it_is_for(html: str) -> None:
    assert ">Hide my details</button>" in html and 'aria-describedby="mask-why"' in html
    assert "for sharing your screen or printing" in html


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def test_long_values_and_buttons_wrap_on_a_390_px_phone(browser: Browser, tmp_path: Path) -> None:
    from dataclasses import replace

    scan = demo_scan()
    long_email = "jane.marie.testwood.springfield.household.mail2026@example.com"
    first = scan.sites[0]
    first = replace(
        first,
        site=replace(first.site, name="PeopleLedgerPublicRecordsAndPropertyOwnershipDirectory"),
        verdicts=(replace(first.verdicts[0], reasons=(*first.verdicts[0].reasons, f"Your email {long_email}")),),
    )
    path = tmp_path / "report.html"
    path.write_bytes(HtmlReporter().render(replace(scan, sites=(first, *scan.sites[1:]))))
    page = browser.open(path, width=390, height=844)
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    overflowing = page.evaluate(
        """() => Array.from(document.querySelectorAll('.v, .button, .toggle, td, label, li')).filter(el => {
              const r = el.getBoundingClientRect();
              return r.width && (r.right > 390.5 || el.scrollWidth > el.clientWidth + 1);
           }).map(el => el.className + ': ' + el.textContent.trim().slice(0, 60))"""
    )
    assert overflowing == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
