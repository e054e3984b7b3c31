"""Markdown and CSV reports against golden files, their escaping, and the format registry.

Run with UPDATE_GOLDEN=1 to rewrite the golden files after an intended change; review the diff.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from exposure.models import ExposureKind, ScanResult
from exposure.report import Format, reporter
from exposure.report.csv_report import COLUMNS, CsvReporter, cell
from exposure.report.markdown import MarkdownReporter, code, text
from exposure.report.view import Link
from report.factory import SCRIPT_PAYLOADS, demo_scan, payload_scan

GOLDEN = Path(__file__).parent / "golden"


def check_golden(name: str, actual: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(actual)
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1"
    assert actual == path.read_bytes(), f"{name} changed: review, then run with UPDATE_GOLDEN=1"


def test_every_format_is_registered() -> None:
    suffixes = {fmt: reporter(fmt).suffix for fmt in Format}
    assert suffixes == {Format.HTML: ".html", Format.JSON: ".json", Format.MARKDOWN: ".md", Format.CSV: ".csv"}
    assert reporter("markdown").suffix == ".md"
    with pytest.raises(ValueError, match="choose one of html, json, markdown, csv"):
        reporter("pdf")


# --- Markdown -----------------------------------------------------------------------------------------


def test_markdown_golden() -> None:
    check_golden("demo.md", MarkdownReporter().render(demo_scan()))


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("[click](javascript:alert(1))", r"\[click\](javascript:alert(1))"),
        ("![x](https://evil.example/p.png)", "`![x](https://evil.example/p.png)`"),  # a bare URL: a code span
        ("<img src=x onerror=alert(1)>", r"\<img src=x onerror=alert(1)\>"),
        ("&lt;b&gt;", r"\&lt;b\&gt;"),
        ("# heading", r"\# heading"),
        ("1. list", r"1\. list"),
        ("*bold* _em_ `code` ~~s~~ a|b", r"\*bold\* \_em\_ \`code\` \~\~s\~\~ a\|b"),
        ("line\nbreak\r\n- item", "line break - item"),  # one line: "-" is not at a line start any more
        ("- item", r"\- item"),
    ],
)
def test_markdown_text_is_inert(raw: str, escaped: str) -> None:
    assert text(raw, line_start=True) == escaped


def test_scraped_urls_and_emails_are_never_links_under_gfm() -> None:
    """GitHub-flavoured Markdown links bare URLs, www. names and emails by itself: only our own links may be."""
    from markdown_it import MarkdownIt

    from exposure.report.markdown import render_view
    from exposure.report.view import build

    scraped = "see http://evil.example/x or www.evil.example, mail jane.t@evil.example"
    base = demo_scan()
    sites = list(base.sites)
    first = sites[0]
    v = first.verdicts[0]
    from dataclasses import replace as dc_replace

    from exposure.models import Exposure, ExposureKind

    v2 = dc_replace(
        v, reasons=(*v.reasons, scraped), exposed=(*v.exposed, Exposure(ExposureKind.ALIAS, scraped, False, scraped))
    )
    sites[0] = dc_replace(first, verdicts=(v2, *first.verdicts[1:]))
    md = render_view(build(dc_replace(base, sites=tuple(sites))))
    html = MarkdownIt("gfm-like").render(md)
    import re

    hrefs = re.findall(r'href="([^"]+)"', html)
    assert hrefs and not [h for h in hrefs if "evil.example" in h], hrefs
    assert "evil.example/x" in html  # still shown, as text


def test_markdown_text_mid_line_keeps_dots_and_dashes() -> None:
    assert text("127.0.0.1:8080") == "127.0.0.1:8080"
    assert text("- x") == "- x"


def test_markdown_links_only_for_safe_urls() -> None:
    from exposure.report.markdown import link

    assert link(Link.of("https://example.com/a b")).startswith("`https://example.com/a b`")
    assert link(Link.of("https://example.com/x")) == "<https://example.com/x>"
    assert code("a `b` c") == "``a `b` c``"


def test_markdown_renders_no_html_images_or_unsafe_links() -> None:
    """Parse the hostile report as CommonMark (markdown-it, HTML allowed, as mail clients do)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    tokens = md.parse(MarkdownReporter().render(payload_scan()).decode())
    seen = set()
    for token in tokens:
        for t in (token, *(token.children or ())):
            seen.add(t.type)
            assert t.type not in ("html_inline", "html_block", "image"), t
            if t.type == "link_open":
                assert str(t.attrs["href"]).startswith("https://"), t.attrs
    assert {"heading_open", "bullet_list_open", "code_inline"} <= seen


# --- CSV ------------------------------------------------------------------------------------------------


def rows(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # BOM, so Excel reads UTF-8
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_golden() -> None:
    check_golden("demo.csv", CsvReporter().render(demo_scan()))


def test_csv_has_one_row_per_exposed_value() -> None:
    scan = demo_scan()
    table = rows(CsvReporter().render(scan))
    assert list(table[0]) == list(COLUMNS)
    assert len(table) == sum(len(v.exposed) for s in scan.sites for v in s.verdicts)
    home = [r for r in table if r["site_id"] == "peopleledger" and r["kind"] == "address"]
    assert home[0]["value"].startswith("412 N Walnut St") and home[0]["yours"] == "yes"
    assert {r["relation"] for r in table} == {"you", "your details under another name", "possible namesake"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("https://evil.example")', '\'=HYPERLINK("https://evil.example")'),
        ("+1 217 555 0142", "'+1 217 555 0142"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("  =1", "'  =1"),
        ("Jane Testwood", "Jane Testwood"),
        ("(217) 555-0142", "(217) 555-0142"),
        (None, ""),
        (3, "3"),
    ],
)
def test_csv_cells_cannot_be_formulas(value: object, expected: str) -> None:
    assert cell(value) == expected


def test_csv_hostile_values_stay_text() -> None:
    from dataclasses import replace

    from report.factory import exposed, verdict

    base = demo_scan()
    site = base.sites[0]
    hostile = verdict(
        "=cmd|' /C calc'!A0",
        [
            exposed(k, v)
            for k, v in zip(
                site.verdicts[0].listing.values,
                ("=1+1", "+cmd", "-1", "@A1", "\tx", 'line\nbreak, "quoted"', *SCRIPT_PAYLOADS),
                strict=False,
            )
        ],
    )
    scan = replace(base, sites=(replace(site, verdicts=(hostile,)),))
    table = rows(CsvReporter().render(scan))
    for row in table:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert any(r["value"] == 'line\nbreak, "quoted"' for r in table)  # quoted by csv, one cell
    assert table[0]["listing_url"] == "'=cmd|' /C calc'!A0"


def unconfirmed_scan() -> ScanResult:
    """One site shows a listing with Jane's name that nothing confirms or rules out; one namesake elsewhere;
    one site can only be checked by hand."""
    from exposure.models import ByHand, OptOut, Outcome, SiteInfo, Status
    from report.factory import exposed, scan, site_result, verdict

    a = SiteInfo("maybe", "MaybePeople", "maybepeople.example")
    b = SiteInfo("other", "OtherPeople", "otherpeople.example")
    bare = verdict(
        "https://www.maybepeople.example/p/jane-testwood-77",
        [exposed(ExposureKind.NAME, "Jane Testwood")],
        ["name matches (exact)", "but nothing else on the listing confirms or rules out that it is you"],
        is_user=False,
        unconfirmed=True,
        confidence=0.35,
    )
    other = verdict(
        "https://www.otherpeople.example/p/jane-testwood-3",
        [exposed(ExposureKind.NAME, "Jane Testwood"), exposed(ExposureKind.AGE, "Age 31", yours=False)],
        ["name matches (exact)", "but the age (31) does not fit your birth year"],
        is_user=False,
        namesake=True,
        confidence=0.35,
    )
    hand = ByHand(
        SiteInfo("funnel", "FunnelFinder", "funnelfinder.example", manual_url="https://www.funnelfinder.example/"),
        OptOut("https://www.funnelfinder.example/optout", "web form", ("email address",), "1. Open the page.", 7),
        "Its search shows the same sign-up page for everyone, so no answer could be trusted.",
    )
    return scan(
        [
            site_result(a, Status.COULD_NOT_CHECK, verdicts=[bare], reason=Outcome.UNCONFIRMED, detail="a listing"),
            site_result(b, Status.NOT_FOUND, verdicts=[other]),
        ],
        by_hand=(hand,),
    )


def test_unconfirmed_listings_are_their_own_group_above_namesakes_in_every_format() -> None:
    s = unconfirmed_scan()
    data = json.loads(reporter(Format.JSON).render(s))
    listing = data["sites"][0]["listings"][0]
    assert listing["unconfirmed"] is True and not listing["namesake"] and not listing["is_user"]
    assert data["summary"]["unconfirmed"] == 1 and data["summary"]["by_hand"] == 1
    assert data["check_by_hand"][0]["id"] == "funnel" and data["check_by_hand"][0]["opt_out"]["days"] == 7
    md = reporter(Format.MARKDOWN).render(s).decode()
    assert md.index("## Check these listings yourself") < md.index("## Possible namesakes")
    assert "maybepeople.example/p/jane-testwood-77" in md.split("## Check these listings yourself")[1]
    assert "## Check by hand" in md and "FunnelFinder" in md
    html = reporter(Format.HTML).render(s).decode()
    assert html.index('id="unconfirmed"') < html.index('id="namesakes"')
    assert 'id="by-hand"' in html and "same sign-up page for everyone" in html
    rows = list(csv.reader(io.StringIO(reporter(Format.CSV).render(s).decode("utf-8-sig"))))
    relations = {r[COLUMNS.index("relation")] for r in rows[1:]}
    assert "your name, not confirmed: check it yourself" in relations
    assert any(r[COLUMNS.index("site_status")] == "check_by_hand" for r in rows[1:])
