"""Scans are remembered (0600 in 0700), and the next scan says what is new and what is gone."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from conftest import FIXTURES
from servers import Canned, LocalServer
from test_cli import rules_dir, runner
from test_pipeline import DETAIL_1, JANE_CARD, NO_RESULTS, page

from exposure.cli import app

PROFILE = FIXTURES / "profiles" / "default.toml"


def assert_private(folder: Path) -> None:
    """Every file under `folder` is 0600 and every folder 0700."""
    for p in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), f"{p} is {oct(mode)}"


def scan(tmp: Path, server: LocalServer, out: Path, *formats: str) -> dict:  # type: ignore[type-arg]
    args = [
        "scan",
        "--profile",
        str(PROFILE),
        "--rules",
        str(rules_dir(tmp, server.base)),
        "--out",
        str(out),
        "--format",
        "json",
        "--history-dir",
        str(tmp / "history"),
    ]
    for f in formats:
        args += ["--format", f]
    result = runner.invoke(app, args)
    assert result.exit_code in (0, 1, 3), result.output
    (report,) = out.glob("*.json")
    return json.loads(report.read_text())  # type: ignore[no-any-return]


def test_second_scan_reports_new_and_gone(tmp_path: Path) -> None:
    listed = {"/name/Jane_Testwood": Canned(page(JANE_CARD)), "/person/jane-1": Canned(DETAIL_1)}
    server = LocalServer(listed, fallback=Canned(page(NO_RESULTS)))
    with server:
        first = scan(tmp_path, server, tmp_path / "r1")
        assert first["changes"] is None
        (listing,) = [item for site in first["sites"] for item in site["listings"]]
        second = scan(tmp_path, server, tmp_path / "r2")
        assert second["changes"]["still_listed"] == [listing["finding_id"]]
        assert not second["sites"][0]["listings"][0]["new"]
        server.routes.clear()  # the listing was removed from the site: an opt-out worked
        third = scan(tmp_path, server, tmp_path / "r3", "html", "markdown")
    assert [g["finding_id"] for g in third["changes"]["gone"]] == [listing["finding_id"]]
    assert third["changes"]["gone"][0]["url"].endswith("/person/jane-1")
    (md,) = (tmp_path / "r3").glob("*.md")
    assert "0 new listings, 0 still there, 1 gone (an opt-out may have worked)" in md.read_text()
    (html,) = (tmp_path / "r3").glob("*.html")
    assert 'id="changes"' in html.read_text() and "/person/jane-1" in html.read_text()
    history = tmp_path / "history"
    assert stat.S_IMODE(history.stat().st_mode) == 0o700
    assert_private(history)


def test_a_site_that_cannot_be_checked_does_not_make_a_listing_gone(tmp_path: Path) -> None:
    listed = {"/name/Jane_Testwood": Canned(page(JANE_CARD)), "/person/jane-1": Canned(DETAIL_1)}
    server = LocalServer(listed, fallback=Canned(page(NO_RESULTS)))
    with server:
        first = scan(tmp_path, server, tmp_path / "r1")
        server.routes.clear()
        server.fallback = Canned("<title>Just a moment...</title>", 403, {"cf-mitigated": "challenge"})
        second = scan(tmp_path, server, tmp_path / "r2")
    fid = first["sites"][0]["listings"][0]["finding_id"]
    assert second["changes"]["gone"] == [] and [u["finding_id"] for u in second["changes"]["unknown"]] == [fid]


def test_a_listing_only_a_failed_search_reached_is_not_gone(tmp_path: Path) -> None:
    # the name search finds one listing, the phone search another; next time the phone search fails
    other = JANE_CARD.replace("/person/jane-1", "/person/jane-9")
    routes = {
        "/name/Jane_Testwood": Canned(page(JANE_CARD)),
        "/person/jane-1": Canned(DETAIL_1),
        "/phone/217-555-0142": Canned(page(other)),
        "/person/jane-9": Canned(DETAIL_1),
    }
    server = LocalServer(routes, fallback=Canned(page(NO_RESULTS)))
    with server:
        first = scan(tmp_path, server, tmp_path / "r1")
        server.routes["/phone/217-555-0142"] = Canned("oops", 500)
        second = scan(tmp_path, server, tmp_path / "r2")
    by_url = {item["url"].rsplit("/", 1)[-1]: item["finding_id"] for item in first["sites"][0]["listings"]}
    assert {"jane-1", "jane-9"} <= set(by_url)
    assert second["sites"][0]["status"] == "found"  # still found through the name search
    changes = second["changes"]
    assert by_url["jane-1"] in changes["still_listed"]
    assert changes["gone"] == []
    assert by_url["jane-9"] in [u["finding_id"] for u in changes["unknown"]]
