"""Single functions of the fetcher and the classifier, without the network.

Bounded decoding (every coding we offer, stacked or not, fed in awkward pieces; bombs cut at the cap),
Retry-After, text decoding with hostile charsets, and protection detection on every canned block page
and on the ordinary pages that only look like one.
"""

from __future__ import annotations

import email.utils
import gzip
import time
import tracemalloc
import zlib
from typing import Any

import brotli
import pytest
from hostile.server import BAD_CHARSET_BODY, CANNED, bomb, page, stacked_gzip

from exposure.bodies import STEP, BoundedBody, decode_text, decoders_for
from exposure.bodies import Failure as _Failure
from exposure.classify import challenge_in, classify, detect_protection
from exposure.fetch import parse_retry_after
from exposure.models import Outcome, Page
from exposure.parse import Document
from exposure.rules import Rule

MiB = 1024 * 1024
RESULTS = page("results.html")

RULE = Rule.model_validate(
    {
        "id": "unit",
        "name": "Unit",
        "domain": "people.example",
        "searches": [{"kind": "name", "url": "http://people.example/search?q={full|urlencode}"}],
        "pages": {"no_results": [{"selector": "#no-results"}], "blocked": [{"title": ["Slow down, friend"]}]},
        "extract": {"listing": ".card", "fields": {"name": ".name"}},
    }
)


# ------------------------------------------------------------------------------------ bounded decoding


@pytest.fixture(params=["isal", "zlib"])
def inflate(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """gzip and deflate through ISA-L, and through zlib as on a platform without ISA-L's wheels."""
    import exposure.bodies as bodies

    if request.param == "zlib":
        monkeypatch.setattr(bodies, "_inflate", zlib)
        monkeypatch.setattr(bodies, "_INFLATE_ERRORS", (zlib.error,))
    else:
        from isal import isal_zlib

        assert bodies._inflate is isal_zlib
    return str(request.param)


def decode(coding: str, data: bytes, cap: int = 5 * MiB, piece: int = 1000) -> bytes:
    body = BoundedBody(coding, cap)
    for i in range(0, len(data), piece):
        body.feed(data[i : i + piece])
    body.finish()
    return body.value()


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("", lambda d: d),
        ("identity", lambda d: d),
        ("gzip", lambda d: gzip.compress(d)),
        ("x-gzip", lambda d: gzip.compress(d)),
        ("deflate", zlib.compress),  # zlib-wrapped, as the standard says
        ("deflate", lambda d: zlib.compress(d)[2:-4]),  # raw deflate, as some servers send it
        ("br", brotli.compress),
        ("GZIP", lambda d: gzip.compress(d)),
        ("gzip, gzip", lambda d: stacked_gzip(d, 2)),
        ("gzip, br", lambda d: brotli.compress(gzip.compress(d))),  # the last coding listed is undone first
        ("deflate, identity, br", lambda d: brotli.compress(zlib.compress(d))),
    ],
)
@pytest.mark.usefixtures("inflate")
def test_bounded_body_decodes_every_coding_we_offer(coding: str, encode: Any) -> None:
    data = RESULTS * 300  # about 500 KB, several decoding steps
    assert decode(coding, encode(data)) == data
    assert decode(coding, encode(RESULTS), piece=1) == RESULTS  # one byte at a time


def test_decoders_for_refuses_what_we_did_not_ask_for() -> None:
    assert decoders_for("") == [] and decoders_for("identity") == []
    assert len(decoders_for("gzip, br")) == 2
    for coding in ("gzip, gzip, gzip", "zstd", "compress", "br-x", "gzip, zstd"):
        with pytest.raises(_Failure) as refused:
            decoders_for(coding)
        assert refused.value.outcome is Outcome.ERROR and "refused" in refused.value.detail


@pytest.mark.parametrize(("coding", "kind"), [("gzip", "gzip"), ("deflate", "deflate"), ("br", "br")])
@pytest.mark.usefixtures("inflate")
def test_bombs_are_cut_at_the_cap_in_small_steps(coding: str, kind: str) -> None:
    compressed = bomb(kind)
    body = BoundedBody(coding, 1 * MiB)
    tracemalloc.start()
    try:
        with pytest.raises(_Failure) as cut:
            for i in range(0, len(compressed), 16 * 1024):
                body.feed(compressed[i : i + 16 * 1024])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "larger than 1024 KiB" in cut.value.detail
    assert MiB < body.size <= MiB + STEP  # stopped within one step of the cap
    assert peak < 4 * MiB  # the cap and one step, not the 200 MiB the bomb holds


@pytest.mark.usefixtures("inflate")
def test_corrupt_compressed_bodies_are_errors() -> None:
    for coding, junk in (("gzip", b"\x1f\x8b\x08\x00garbage" * 10), ("br", b"\xff" * 64)):
        with pytest.raises(_Failure) as broken:
            decode(coding, junk)
        assert broken.value.outcome is Outcome.ERROR and "corrupt" in broken.value.detail


@pytest.mark.parametrize(
    ("coding", "encode"), [("gzip", gzip.compress), ("deflate", zlib.compress), ("br", brotli.compress)]
)
@pytest.mark.usefixtures("inflate")
def test_truncated_compressed_bodies_are_errors_not_short_pages(coding: str, encode: Any) -> None:
    # a results page cut short could hide the user's listing: it must never be read as the whole page
    whole = encode(RESULTS * 50)
    with pytest.raises(_Failure) as cut:
        decode(coding, whole[: len(whole) * 2 // 3])
    assert cut.value.outcome is Outcome.ERROR and "truncated" in cut.value.detail


# ---------------------------------------------------------------------------------------- Retry-After


def test_parse_retry_after_seconds_and_dates() -> None:
    now = 1_732_182_400.0
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 5 ") == 5.0
    assert parse_retry_after(email.utils.formatdate(now + 90, usegmt=True), now=now) == pytest.approx(90)
    assert parse_retry_after(email.utils.formatdate(now - 90, usegmt=True), now=now) == 0.0  # already past
    for junk in (None, "", "soon", "-5", "1e9x", "Mon, 99 Foo 2024"):
        assert parse_retry_after(junk) is None
    # a date is measured from the real clock when no `now` is given
    assert 8 <= (parse_retry_after(email.utils.formatdate(time.time() + 10, usegmt=True)) or 0) <= 10


# ---------------------------------------------------------------------------------------------- text


def test_decode_text_survives_hostile_charsets() -> None:
    assert decode_text("Zoë".encode("latin-1"), "text/html; charset=ISO-8859-1") == "Zoë"
    assert decode_text('<meta charset="windows-1252"><p>Zo\xeb'.encode("latin-1"), "text/html").endswith("Zoë")
    assert decode_text("Zoë".encode(), "text/html") == "Zoë"  # no charset: UTF-8
    # unknown, and known-but-not-text codecs ("rot13", "base64", "zlib" decode bytes.decode would raise on)
    for charset in ("x-no-such-charset", "rot13", "base64", "zlib", "idna", '"utf-8'):
        assert "Testwood" in decode_text(BAD_CHARSET_BODY, f"text/html; charset={charset}")
    # not UTF-8 and no usable charset: Windows-1252, as browsers read it
    assert "Zoë Testwood" in decode_text(BAD_CHARSET_BODY, "text/html; charset=x-no-such-charset")
    # UTF-8 with one broken byte stays UTF-8
    assert decode_text("Zoë".encode() + b"\xff", "text/html") == "Zoë\ufffd"


# ---------------------------------------------------------------------------------------- protections


def canned_page(route: str) -> Page:
    canned = CANNED[route]
    body = page(canned.file)
    headers = {k.lower(): v for k, v in [("Content-Type", canned.content_type), *canned.headers]}
    return as_page(body, canned.status, headers)


def as_page(body: bytes | str, status: int = 200, headers: dict[str, str] | None = None) -> Page:
    raw = body.encode() if isinstance(body, str) else body
    url = "http://people.example/search?q=Jane+Testwood"
    return Page(url, url, status, headers or {}, raw, decode_text(raw, "text/html"), "text/html")


def classified(p: Page, listings: int | None = None) -> tuple[Outcome, str]:
    doc = Document(p.text, p.final_url)
    count = len(doc.root.cssselect(".card")) if listings is None else listings
    c = classify(p, doc, RULE, count)
    return c.outcome, c.detail


@pytest.mark.parametrize("route", [r for r, c in CANNED.items() if c.blocked])
def test_every_canned_block_page_is_blocked_by_its_vendor(route: str) -> None:
    outcome, detail = classified(canned_page(route))
    assert outcome is Outcome.BLOCKED
    assert CANNED[route].vendor in detail


@pytest.mark.parametrize("route", [r for r, c in CANNED.items() if not c.blocked])
def test_canned_results_pages_are_results(route: str) -> None:
    p = canned_page(route)
    assert detect_protection(p, Document(p.text), weak_allowed=False) is None
    assert classified(p)[0] is Outcome.RESULTS


def test_wall_served_through_a_cdn_is_named_after_the_wall() -> None:
    # HUMAN's and DataDome's walls on a site that uses Cloudflare as its CDN
    cdn = {"server": "cloudflare", "cf-ray": "8e6f0a1b2c3d4e5f-ORD"}
    assert "PerimeterX" in classified(as_page(page("perimeterx.html"), 403, cdn))[1]
    assert "DataDome" in classified(as_page(page("datadome.html"), 403, cdn))[1]


def test_weak_markers_never_turn_the_sites_own_answer_into_a_block() -> None:
    # a no-results page answered with 404 through Cloudflare, with the challenge-platform script it injects
    jsd = '<script src="/cdn-cgi/challenge-platform/scripts/jsd/main.js"></script>'
    none = f"<html><head><title>No match</title></head><body><div id='no-results'>Nobody.</div>{jsd}</body></html>"
    cdn = {"server": "cloudflare"}
    assert classified(as_page(none, 404, cdn))[0] is Outcome.NO_RESULTS
    # the same 404 without the no-results answer is unrecognised, not a Cloudflare block: 404 is not a wall
    other = "<html><head><title>Oops</title></head><body>Page moved." + jsd + "</body></html>"
    assert classified(as_page(other, 404, cdn)) == (Outcome.UNRECOGNIZED, "HTTP 404 with a page we do not recognise")
    # AWS WAF's JavaScript SDK on an ordinary results page
    sdk = '<script src="https://abc.us-east-1.sdk.awswaf.com/abc/def/jsapi.js"></script><script>AwsWafIntegration.getToken()</script>'
    assert classified(as_page(RESULTS.decode().replace("</body>", sdk + "</body>")))[0] is Outcome.RESULTS
    # a captcha on the search form of a no-results page
    form = "<div class='g-recaptcha'></div><div id='no-results'>No records.</div>"
    assert classified(as_page(f"<html><body>{form}</body></html>"))[0] is Outcome.NO_RESULTS


def test_generic_block_words_count_only_in_the_title_or_on_an_error() -> None:
    script = "<script>var msg = 'Access Denied: sign in';</script>"
    assert classified(as_page(f"<html><head><title>Hi</title>{script}</head><body>?</body></html>"))[0] is (
        Outcome.UNRECOGNIZED
    )
    assert classified(as_page("<html><head><title>Access Denied</title></head><body>x</body></html>")) == (
        Outcome.BLOCKED,
        "blocked by a block page",
    )
    assert classified(as_page("<html><body><h1>Request blocked</h1></body></html>", 403))[0] is Outcome.BLOCKED


def test_the_rules_own_block_page_comes_first() -> None:
    p = as_page("<html><head><title>Slow down, friend</title></head><body><div id='no-results'></div></body></html>")
    assert classified(p) == (Outcome.BLOCKED, "the site's own block page")


def test_escaped_akamai_reference_is_read_decoded() -> None:
    # without the AkamaiGHost header, only the entity-decoded body says "Reference #18."
    outcome, detail = classified(as_page(page("akamai-escaped.html"), 403))
    assert outcome is Outcome.BLOCKED and "Akamai" in detail


def test_challenge_in_sees_only_strong_markers() -> None:
    challenge = canned_page("/block/cloudflare")
    assert challenge_in(503, challenge.headers, challenge.text) == "Cloudflare"
    assert challenge_in(503, {}, page("cloudflare-attention.html").decode()) == "Cloudflare"  # by its title
    assert challenge_in(503, {"server": "cloudflare"}, "<html><body>Service Unavailable</body></html>") is None
    behind = canned_page("/results-behind-cloudflare")
    assert challenge_in(503, behind.headers, behind.text) is None


@pytest.mark.parametrize(
    "html",
    [
        "<title>Plain</title><p>x",
        "<html><head><title>In the head</title></head><body><title>in the body</title></body></html>",
        "<p>x</p><title>After a paragraph</title>",
        "<html><body><svg><title>Only an SVG's</title></svg></body></html>",
        "<html><head><noscript><title>Nested  in head</title></noscript><title>Second</title></head></html>",
        "<html><head><meta charset=utf-8></head><body><title>Body only</title></body></html>",
        "",
    ],
)
def test_the_title_is_the_first_one_in_the_page_wherever_it_sits(html: str) -> None:
    # block-page titles decide whether a site "could not be checked": the shortcut through <head> must find
    # exactly the title a whole-tree search finds
    doc = Document(html)
    titles = doc.root.xpath("//title")
    assert doc.title == (" ".join(" ".join(titles[0].itertext()).split()) if titles else "")
    assert doc.title or not html or "<title>" not in html
