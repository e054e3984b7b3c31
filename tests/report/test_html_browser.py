"""The HTML report opened from disk in a real headless Chromium (Debian's), the way its reader opens it.

One browser for the whole module (starting Chromium is the slow part). These tests never skip: if
Chromium is missing and cannot be installed, `browser.ensure_chromium` fails them with the reason.
Screenshots for people to look at are written to tests/artifacts/ (ignored by git).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import Browser, chromium
from playwright.sync_api import Page

from exposure.models import ScanResult
from exposure.report.html import HtmlReporter
from exposure.report.json_report import summary
from report.factory import demo_scan, payload_scan

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

# Makes every touch of localStorage throw, as some browsers do for file:// pages.
STORAGE_THROWS = """
Object.defineProperty(window, "localStorage", {
  configurable: true,
  get() { throw new DOMException("The operation is insecure.", "SecurityError"); },
});
"""

# WCAG contrast of every visible piece of text against the first opaque background behind it.
CONTRAST = """
() => {
  function rgb(c) {
    const m = c.match(/[\\d.]+/g).map(Number);
    return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1};
  }
  function lum(c) {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  }
  function background(el) {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.a > 0.5) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  }
  const bad = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    const s = getComputedStyle(el);
    if (s.visibility === "hidden" || parseFloat(s.fontSize) === 0 || el.closest(".visually-hidden")) continue;
    const fg = lum(rgb(s.color)), bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const large = parseFloat(s.fontSize) >= 24 || (parseFloat(s.fontSize) >= 18.66 && parseInt(s.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      bad.push(`${el.tagName}.${el.className} ${ratio.toFixed(2)}: ${el.textContent.trim().slice(0, 40)}`);
    }
  }
  return bad;
}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def write(tmp_path: Path, scan: ScanResult, name: str = "report.html") -> Path:
    path = tmp_path / name
    path.write_bytes(HtmlReporter().render(scan))
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("demo"), demo_scan())


def open_clean(browser: Browser, path: Path, **kw: object) -> Page:
    browser.recorder.clear()
    page = browser.open(path, **kw)  # type: ignore[arg-type]
    return page


def numbers(summary: dict[str, object]) -> dict[str, int]:
    """The summary's counts (its words and flags are not numbers on the page)."""
    return {k: v for k, v in summary.items() if isinstance(v, int) and not isinstance(v, bool)}


def assert_quiet(browser: Browser, path: Path) -> None:
    """No request but the report itself, no console error (CSP violations land there), no exception."""
    rec = browser.recorder
    assert set(rec.requests) <= {path.resolve().as_uri()}, rec.requests
    assert rec.console_errors == [], rec.console_errors
    assert rec.page_errors == [], rec.page_errors
    assert rec.dialogs == [], rec.dialogs


def test_demo_report_is_offline_matches_the_json_and_is_screenshotted(browser: Browser, demo: Path) -> None:
    page = open_clean(browser, demo)
    expected = summary(demo_scan())
    shown = dict(page.eval_on_selector_all("[data-summary]", "els => els.map(e => [e.dataset.summary, e.textContent])"))
    assert {k: int(v) for k, v in shown.items()} == numbers(expected)
    kinds = page.eval_on_selector_all("[data-kind-count]", "els => els.map(e => [e.dataset.kindCount, e.textContent])")
    assert {k: int(v) for k, v in kinds} == expected["exposed_kinds"]
    # The first screen answers "where is my address" and "what do I click first".
    assert page.locator('[data-kind="address"]').is_visible()
    assert "PeopleLedger" in page.locator('[data-kind="address"]').inner_text()
    first = page.locator("ol.first a.button").first
    assert first.inner_text() == "Ask PeopleLedger to remove you"
    assert first.bounding_box()["y"] < 900  # type: ignore[index]
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("h1").count() == 1

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    page.screenshot(path=str(ARTIFACTS / "report-first-screen.png"))
    assert page.evaluate(CONTRAST) == []
    assert_quiet(browser, demo)


def test_phone_width_fits_without_sideways_scrolling(browser: Browser, demo: Path) -> None:
    page = open_clean(browser, demo, width=390, height=844)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "report-phone.png"), full_page=True)
    assert_quiet(browser, demo)


def test_checklist_tick_survives_a_reload(browser: Browser, demo: Path) -> None:
    page = open_clean(browser, demo)
    page.evaluate("localStorage.clear()")
    page.reload()
    box = page.locator("#check-1")
    assert not box.is_checked()
    box.check()
    key = box.get_attribute("data-check")
    # The card's "I have sent this request" is the same tick, and so is its sister site's.
    assert page.locator(f'input[data-check="{key}"]').count() == 3
    assert all(b.is_checked() for b in page.locator(f'input[data-check="{key}"]').all())
    assert page.locator("[data-progress-done]").inner_text() == "1"
    page.reload()
    assert page.locator("#check-1").is_checked()
    assert page.locator("#check-2").is_checked() is False
    note = page.locator(f'.checks [data-check-note="{key}"]').inner_text()
    assert re.fullmatch(r"Sent \d{4}-\d\d-\d\d\. Check again after \d{4}-\d\d-\d\d\.", note), note
    stored = page.evaluate("Object.keys(localStorage)")
    assert stored == [f"exposure:{demo_scan().id}:{key}"]
    page.locator("#check-1").uncheck()
    page.reload()
    assert not page.locator("#check-1").is_checked()
    assert_quiet(browser, demo)


def test_report_works_when_storage_throws(browser: Browser, demo: Path) -> None:
    page = open_clean(browser, demo, init_script=STORAGE_THROWS)
    assert page.locator(".storage-off").is_visible()
    page.locator("#check-2").check()
    assert page.locator("#check-2").is_checked()
    assert page.locator("[data-progress-done]").inner_text() == "1"
    page.locator("#mask-toggle").click()
    assert "masked" in (page.locator("body").get_attribute("class") or "")
    page.reload()
    assert not page.locator("#check-2").is_checked()  # not remembered, and nothing broke
    assert_quiet(browser, demo)


def test_hide_values_masks_every_value_and_is_remembered(browser: Browser, demo: Path) -> None:
    page = open_clean(browser, demo)
    page.evaluate("localStorage.clear()")
    toggle = page.locator("#mask-toggle")
    assert toggle.get_attribute("aria-pressed") == "false"
    address = page.locator(".values .v", has_text="412 N Walnut St").first
    assert address.is_visible()
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true" and toggle.inner_text() == "Show my details"
    sizes = page.eval_on_selector_all(".v", "els => els.map(e => getComputedStyle(e).fontSize)")
    assert sizes and set(sizes) == {"0px"}
    page.screenshot(path=str(ARTIFACTS / "report-masked.png"))
    page.reload()
    assert page.locator("body.masked").count() == 1
    page.locator("#mask-toggle").click()
    assert page.locator("body.masked").count() == 0
    assert_quiet(browser, demo)


def test_keyboard_reaches_what_to_do_first(browser: Browser, demo: Path) -> None:
    page = open_clean(browser, demo)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Ask PeopleLedger to remove you"
    assert_quiet(browser, demo)


def test_print_shows_link_targets_and_hides_screen_controls(browser: Browser, demo: Path) -> None:
    page = open_clean(browser, demo)
    page.emulate_media(media="print")
    assert not page.locator("#mask-toggle").is_visible()
    after = page.evaluate("getComputedStyle(document.querySelector('ol.first a.button'), '::after').content")
    assert "https://www.peopleledger.example/optout" in after
    assert page.locator("#checklist input[type=checkbox]").first.is_visible()
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert page.locator("details:not([open])").count() == 0  # evidence and namesakes print open
    page.pdf(path=str(ARTIFACTS / "report.pdf"))
    page.emulate_media(media="screen")
    assert_quiet(browser, demo)


def test_payloads_run_no_script_with_or_without_the_csp(browser: Browser, tmp_path: Path) -> None:
    """Escaping is tested on its own (CSP stripped) and with the CSP as shipped."""
    html = HtmlReporter().render(payload_scan()).decode()
    csp = re.search(r'<meta http-equiv="Content-Security-Policy"[^>]*>', html)
    assert csp
    variants = {"with-csp": html, "without-csp": html.replace(csp.group(0), "")}
    for name, text in variants.items():
        path = tmp_path / f"{name}.html"
        path.write_text(text, encoding="utf-8")
        page = open_clean(browser, path)
        # Poke everything a payload might hook: open all details, hover and focus every element, toggle.
        page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        page.locator("#mask-toggle").click()
        page.locator("#mask-toggle").click()
        page.evaluate(
            """for (const e of document.querySelectorAll('*')) {
                 for (const type of ['mouseover', 'mouseenter', 'focus', 'click', 'toggle']) {
                   if (type === 'click' && (e.tagName === 'A' || e.tagName === 'INPUT')) continue;
                   e.dispatchEvent(new Event(type, {bubbles: true}));
                 }
               }"""
        )
        page.wait_for_timeout(100)
        assert page.evaluate("typeof window.__pwned") == "undefined", name
        assert page.evaluate("typeof parent.__pwned") == "undefined", name
        assert page.evaluate("document.scripts.length") == 1, name
        assert page.evaluate("document.querySelectorAll('img, svg, iframe, object, embed').length") == 0
        handlers = page.evaluate(
            "Array.from(document.querySelectorAll('*')).flatMap(e => e.getAttributeNames())"
            ".filter(n => n.startsWith('on'))"
        )
        assert handlers == [], name
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        assert all(h.startswith(("https://", "http://", path.as_uri() + "#")) for h in hrefs), hrefs
        # The payloads are on the page as text.
        body = page.locator("body").inner_text()
        assert '<img src=x onerror="window.__pwned=1">' in body and "{{7*7}}" in body
        assert page.title() == "Where your information is published: exposure report"
        assert page.locator("#interrupted").is_visible()
        assert_quiet(browser, path)


def test_the_real_exposure_demo_report_in_the_browser(browser: Browser, tmp_path: Path) -> None:
    """`exposure demo` end to end: its HTML report is offline, agrees with its JSON, and is screenshotted."""
    import json
    import subprocess
    import sys

    out = tmp_path / "reports"
    cmd = [sys.executable, "-m", "exposure.cli", "demo", "--out", str(out), "--no-progress"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    (html,) = out.glob("*.html")
    (js,) = out.glob("*.json")
    expected = json.loads(js.read_text())["summary"]
    assert expected["found"] >= 3 and expected["could_not_check"] >= 1 and expected["not_found"] >= 1
    page = open_clean(browser, html)
    shown = dict(page.eval_on_selector_all("[data-summary]", "els => els.map(e => [e.dataset.summary, e.textContent])"))
    assert {k: int(v) for k, v in shown.items()} == numbers(expected)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-report.png"), full_page=True)
    page.screenshot(path=str(ARTIFACTS / "demo-report-first-screen.png"))
    assert_quiet(browser, html)
