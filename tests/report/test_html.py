"""The HTML report as a file: its CSP, its links and its escaping, checked without a browser.

The browser tests (test_html_browser.py) check what Chromium does with it; these check what we wrote,
so a failure points at the template rather than at a browser's leniency.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

from exposure.report import Format, reporter
from exposure.report.html import HtmlReporter
from report.factory import SCRIPT_PAYLOADS, URL_PAYLOADS, demo_scan, empty_scan, interrupted_scan, payload_scan

TEMPLATES = Path(__file__).resolve().parents[2] / "exposure" / "report" / "templates"


class Tags(HTMLParser):
    """Every start tag with its attributes, in document order, plus the text of <style> and <script>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.blocks: dict[str, list[str]] = {"style": [], "script": []}
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in self.blocks:
            self._in = tag
            self.blocks[tag].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self.blocks[self._in][-1] += data


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def render(scan: object) -> str:
    return HtmlReporter().render(scan).decode("utf-8")  # type: ignore[arg-type]


def test_csp_is_first_in_head_and_allows_exactly_the_inline_blocks() -> None:
    html = render(demo_scan())
    tags = parse(html)
    names = [t for t, _ in tags.tags]
    head = names.index("head")
    first, attrs = tags.tags[head + 1]
    assert first == "meta" and attrs["http-equiv"] == "Content-Security-Policy"
    policy = attrs["content"] or ""
    (style,) = tags.blocks["style"]
    (script,) = tags.blocks["script"]
    assert policy == (
        f"default-src 'none'; style-src {sha256(style)}; script-src {sha256(script)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    assert ("meta", {"name": "referrer", "content": "no-referrer"}) in tags.tags
    assert html.count("<script") == 1 and html.count("<style") == 1


def test_nothing_is_loaded_from_anywhere() -> None:
    tags = parse(render(demo_scan()))
    for tag, attrs in tags.tags:
        assert tag not in ("img", "iframe", "object", "embed", "video", "audio", "form", "base"), tag
        assert "src" not in attrs, (tag, attrs)
        if tag == "link":
            assert attrs == {"rel": "icon", "href": "data:,"}


def test_every_link_is_http_or_an_anchor_and_outbound_ones_are_isolated() -> None:
    for scan in (demo_scan(), payload_scan()):
        for tag, attrs in parse(render(scan)).tags:
            if tag != "a":
                continue
            href = attrs.get("href") or ""
            if href.startswith("#"):
                assert re.fullmatch(r"#[a-z0-9_-]+", href), href
                continue
            assert href.startswith(("https://", "http://")), href
            assert attrs.get("rel") == "noopener noreferrer"
            assert attrs.get("target") == "_blank"
            assert not re.search(r"[\s\\\"'<>]", href), href
            assert "@" not in href.split("/")[2], href


def test_no_inline_handlers_and_no_payload_survives_as_markup() -> None:
    html = render(payload_scan())
    tags = parse(html)
    for tag, attrs in tags.tags:
        assert tag not in ("img", "svg", "iframe"), (tag, attrs)
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
    assert [t for t, _ in tags.tags].count("script") == 1
    # The payloads are shown as text: escaped in the source, not dropped.
    assert "&lt;img src=x onerror=&#34;window.__pwned=1&#34;&gt;" in html
    assert "{{7*7}}" in html and "49" not in html
    assert "&amp;lt;script&amp;gt;" in html  # already-escaped text is escaped again, never decoded
    for payload in URL_PAYLOADS:
        assert f'href="{payload}' not in html
    assert len(SCRIPT_PAYLOADS) >= 10


def test_templates_never_mark_anything_safe() -> None:
    for path in TEMPLATES.glob("*.j2"):
        text = path.read_text()
        assert "|safe" not in text.replace(" ", ""), path
        assert "autoescape" not in text, path
        assert not re.search(r"\son[a-z]+\s*=", text), f"inline event handler in {path}"


def test_interrupted_scan_is_marked_at_the_top() -> None:
    html = render(interrupted_scan())
    assert html.index('id="interrupted"') < html.index('id="summary"')
    assert "This scan was stopped before it finished." in html
    assert 'id="interrupted"' not in render(demo_scan())


def test_sections_come_in_the_order_a_reader_needs_them() -> None:
    html = render(demo_scan())
    order = ["summary", "first", "checklist", "listed", "unchecked", "namesakes", "not-listed"]
    positions = [html.index(f'id="{section}"') for section in order]
    assert positions == sorted(positions)
    assert '<details class="namesakes">' in html  # namesakes start collapsed


def test_empty_scan_reads_calmly() -> None:
    html = render(empty_scan())
    assert "We did not find you on any of the" in html and "sites in this scan" in html
    assert 'id="checklist"' not in html and 'id="listed"' not in html


def test_rendering_is_deterministic_and_registered() -> None:
    assert render(demo_scan()) == render(demo_scan())
    r = reporter(Format.HTML)
    assert r.suffix == ".html"
    assert r.render(demo_scan()).decode() == render(demo_scan())
