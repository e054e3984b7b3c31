"""`exposure check URL`: any page, loaded in the browser engine over real HTTP on 127.0.0.1, read for the
profile's identifiers, kept as evidence. The reading itself (`pagecheck.read_page`) is also tested alone."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path

import pytest
from browser import ensure_chromium
from conftest import FIXTURES, TODAY
from servers import Canned, LocalServer
from test_browser_engine import Tripwire
from typer.testing import CliRunner

from exposure.capture import verify_capture
from exposure.cli import app
from exposure.models import ExposureKind, Outcome, Page
from exposure.pagecheck import read_page
from exposure.profile import Profile

runner = CliRunner()
PROFILE = FIXTURES / "profiles" / "default.toml"
POST = (
    "Posted by a neighbour: Jane M Testwood lives at 412 N Walnut St Apt 3, Springfield, IL 62702. "
    "Call her at (217) 555-0142 or write to jane.testwood@example.com. Her brother Robert Testwood too."
)


def html_page(body: str, title: str = "Forum", status: int = 200, headers: dict[str, str] | None = None) -> Page:
    text = f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"
    return Page(
        "https://forum.example/t/1",
        "https://forum.example/t/1",
        status,
        headers or {},
        text.encode(),
        text,
        "text/html",
    )


# ----------------------------------------------------------------- the reading, alone


def test_a_post_about_the_user_shows_each_identifier_with_its_text(profile: Profile) -> None:
    reading = read_page(html_page(f"<article><p>{POST}</p></article>"), profile, TODAY)
    shown = {e.kind: e for e in reading.exposures}
    assert set(shown) >= {
        ExposureKind.NAME,
        ExposureKind.PHONE,
        ExposureKind.EMAIL,
        ExposureKind.ADDRESS,
        ExposureKind.RELATIVE,
    }
    assert shown[ExposureKind.PHONE].value == "(217) 555-0142" and "Call her at" in shown[ExposureKind.PHONE].evidence
    assert shown[ExposureKind.RELATIVE].value == "Robert Testwood"
    assert reading.verdict is not None and reading.verdict.is_user


def test_a_surname_first_name_and_a_nickname_are_found(profile: Profile) -> None:
    reading = read_page(html_page("<table><tr><td>Testwood, Janie</td><td>Evanston, IL</td></tr></table>"), profile)
    assert [e.value for e in reading.exposures if e.kind is ExposureKind.NAME] == ["Testwood, Janie"]


def test_only_the_name_is_not_the_user_and_strangers_are_nothing(profile: Profile) -> None:
    namesake = read_page(html_page("<p>Jane Testwood won the Tucson bake sale.</p>"), profile)
    assert [e.kind for e in namesake.exposures] == [ExposureKind.NAME]
    assert namesake.verdict is not None and not namesake.verdict.is_user
    stranger = read_page(html_page("<p>Paul Other, (520) 555-0199, Tucson, AZ. Related to Robert Other.</p>"), profile)
    assert stranger.verdict is not None and not stranger.exposes


@pytest.mark.parametrize(
    ("page", "outcome"),
    [
        (
            html_page("<p>Checking your browser</p>", "Just a moment...", 403, {"cf-mitigated": "challenge"}),
            Outcome.BLOCKED,
        ),
        (html_page("<p>Nothing here</p>", "Not found", 404), Outcome.UNRECOGNIZED),
        (Page("u", "u", None, {}, b"", "", "", Outcome.TIMEOUT, "the page did not load within 5 s"), Outcome.TIMEOUT),
    ],
)
def test_a_page_that_is_not_the_page_is_could_not_check(profile: Profile, page: Page, outcome: Outcome) -> None:
    reading = read_page(page, profile)
    assert reading.verdict is None and reading.outcome is outcome and not reading.exposes


# ----------------------------------------------------------------- the command, in Chromium


@pytest.fixture(scope="module", autouse=True)
def chromium_present() -> None:
    ensure_chromium()


def scripted(text: str, extra: str = "") -> str:
    """A page whose words exist only once its script ran."""
    data = base64.b64encode(text.encode()).decode()
    return (
        f"<!doctype html><html><head><title>Forum</title>{extra}</head><body><article id=post></article>"
        f"<script>document.getElementById('post').textContent = atob('{data}');</script></body></html>"
    )


def test_check_reports_what_a_scripted_page_shows_and_keeps_it_as_evidence(tmp_path: Path) -> None:
    with Tripwire() as other:
        tracker = f'<script src="{other.base}/t.js"></script><img src="{other.base}/p.gif">'
        with LocalServer(fallback=Canned(scripted(POST, tracker))) as server:
            kept = tmp_path / "kept"
            result = runner.invoke(
                app, ["check", f"{server.base}/t/1", "--profile", str(PROFILE), "--evidence-dir", str(kept)]
            )
        assert other.connections == 0
    assert result.exit_code == 1, result.output
    assert "This page is about you" in result.output and "(217) 555-0142" in result.output
    assert f"127.0.0.1:{other.port}" in result.output and "all were blocked" in result.output
    (record,) = kept.glob("*.json")
    data = json.loads(record.read_text())
    saved = kept / data["file"]
    assert data["url"] == f"{server.base}/t/1" and data["captured_at"].endswith("Z") and data["engine"] == "browser"
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == data["sha256"] and verify_capture(record)
    assert "Jane M Testwood lives at" in saved.read_text()  # the rendered page, not the script
    for path in (saved, record):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.stat().st_mode) == 0o700
    saved.write_bytes(saved.read_bytes().replace(b"Jane", b"Joan"))
    assert not verify_capture(record)


def test_check_exit_0_when_the_page_shows_nothing_of_the_user(tmp_path: Path) -> None:
    with LocalServer(fallback=Canned(scripted("Paul Other sells a bike in Tucson, AZ."))) as server:
        result = runner.invoke(
            app, ["check", f"{server.base}/", "--profile", str(PROFILE), "--evidence-dir", str(tmp_path)]
        )
    assert result.exit_code == 0, result.output
    assert "Nothing of yours was found" in result.output


def test_check_exit_3_on_a_check_page_and_nothing_is_kept(tmp_path: Path) -> None:
    wall = Canned("<title>Just a moment...</title><p>Checking your browser</p>", 403, {"cf-mitigated": "challenge"})
    with LocalServer(fallback=wall) as server:
        result = runner.invoke(
            app, ["check", f"{server.base}/", "--profile", str(PROFILE), "--evidence-dir", str(tmp_path / "k")]
        )
    assert result.exit_code == 3, result.output
    assert "Could not check this page" in result.output and "Cloudflare" in result.output
    assert not (tmp_path / "k").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "ftp://example.com/x"], "is not http or https"),
        (["check", "example.com/x"], "not an absolute http(s) URL"),
        (["check", "https://example.com/", "--allow-host", "com"], "public suffix"),
    ],
)
def test_check_bad_input_is_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, [*args, "--profile", str(PROFILE)])
    assert result.exit_code == 2 and message in result.output, result.output
