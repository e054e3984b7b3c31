"""What is kept, end to end on real sockets: the history database, removal tracking across scans of a synthetic
world, evidence (pages, screenshots in real Chromium, the zip and its verification), letters and forget."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from conftest import FIXTURES
from servers import Canned, LocalServer
from test_pipeline import CARDS_RULE, DETAIL_1, JANE_CARD, NO_RESULTS, page
from typer.testing import CliRunner

from exposure.cli import app
from exposure.history import DB_NAME
from exposure.removal import day

runner = CliRunner()
PROFILE = FIXTURES / "profiles" / "default.toml"
BLOCK = Canned("<title>Just a moment...</title>", 403, {"cf-mitigated": "challenge"})
# the listing's own page, with things a screenshot must not do: run a script, load an image from the network
DETAIL_TRAPS = DETAIL_1.replace(
    "</body>",
    "<img src='/tracker.png'><script>document.body.style.background='rgb(255, 0, 0)';fetch('/beacon')</script></body>",
)


def assert_private(folder: Path) -> None:
    """Every file under `folder` is 0600 and every folder 0700."""
    for p in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), f"{p} is {oct(mode)}"


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def write_rule(folder: Path, rule_id: str, name: str, base: str, covers: list[str], days: int = 3) -> None:
    folder.mkdir(exist_ok=True)
    text = CARDS_RULE.format(id=rule_id, host=base.removeprefix("http://"), base=base)
    text = text.replace('name = "Cards Site"', f'name = "{name}"').replace("days = 3", f"days = {days}")
    text = text.replace('covers = ["sister.example"]', f"covers = {json.dumps(covers)}")
    (folder / f"{rule_id}.toml").write_text(text)


def listed() -> dict[str, Canned]:
    return {"/name/Jane_Testwood": Canned(page(JANE_CARD)), "/person/jane-1": Canned(DETAIL_TRAPS)}


class World:
    """Two people-search sites on 127.0.0.1: `cards`, whose opt-out also covers its sister site `sister`."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.cards = LocalServer(listed(), fallback=Canned(page(NO_RESULTS)))
        self.sister = LocalServer(listed(), fallback=Canned(page(NO_RESULTS)))
        self.history = tmp / "data" / "history"
        self.out = tmp / "reports"
        self.profile = tmp / "config" / "profile.toml"
        self.scans = 0

    def __enter__(self) -> World:
        self.cards.__enter__()
        self.sister.__enter__()
        self.rules = self.tmp / "rules"
        write_rule(self.rules, "cards", "Cards Site", self.cards.base, [self.sister.base.removeprefix("http://")])
        write_rule(self.rules, "sister", "Sister Site", self.sister.base, [])
        self.profile.parent.mkdir(mode=0o700)
        shutil.copy(PROFILE, self.profile)
        os.chmod(self.profile, 0o600)
        return self

    def __exit__(self, *exc: object) -> None:
        self.cards.__exit__(*exc)
        self.sister.__exit__(*exc)

    def cli(self, *args: str, rules: bool = False, history: bool = True, code: int | None = 0) -> str:
        argv = list(args)
        if rules:
            argv += ["--rules", str(self.rules)]
        if history:
            argv += ["--history-dir", str(self.history)]
        result = runner.invoke(app, argv)
        assert "Traceback" not in result.output
        if code is not None:
            assert result.exit_code == code, result.output
        return result.output

    def scan(self, *extra: str, code: int | None = None) -> dict:  # type: ignore[type-arg]
        self.scans += 1
        out = self.out / str(self.scans)
        self.cli(
            "scan", "--profile", str(self.profile), "--out", str(out), "--format", "json", "--no-progress",
            "--timeout", "5", *extra, rules=True, code=code,
        )  # fmt: skip
        (report,) = out.glob("*.json")
        return json.loads(report.read_text())  # type: ignore[no-any-return]


def listing_ids(report: dict, site: str) -> list[str]:  # type: ignore[type-arg]
    return [item["finding_id"] for s in report["sites"] if s["id"] == site for item in s["listings"]]


def test_a_listing_appears_is_asked_away_goes_and_comes_back(tmp_path: Path) -> None:
    asked = date.today() - timedelta(days=10)
    with World(tmp_path) as w:
        first = w.scan(code=1)
        (fid,) = listing_ids(first, "cards")
        assert listing_ids(first, "sister") and first["changes"] is None

        steps = w.cli("optout", "cards", "--asked", "--date", asked.isoformat(), rules=True)
        assert (
            "Find your listing, paste its URL" in steps and "covers: Sister Site" in steps
        )  # the steps, and what it covers
        state = w.cli("removals")
        overdue = f"asked on {day(asked)}, still listed after 10 days: overdue (the site usually takes 3 days)"
        assert f"Cards Site: {overdue}" in state
        assert f"Sister Site (covered by the request to Cards Site): {overdue}" in state

        # the cards site removes her; the sister site does not
        w.cards.routes.clear()
        second = w.scan(code=1)
        assert [g["finding_id"] for g in second["changes"]["gone"]] == [fid]
        assert listing_ids(second, "sister") == second["changes"]["still_listed"]
        state = w.cli("removals")
        assert f"Cards Site: gone, seen on {day(date.today())} (asked on {day(asked)})" in state
        assert f"Sister Site (covered by the request to Cards Site): {overdue}" in state

        # and it comes back
        w.cards.routes.update(listed())
        third = w.scan("--format", "markdown", code=1)
        assert third["changes"]["new"] == [fid]
        notes = {r["site_id"]: r for r in third["removals"]}
        assert notes["cards"]["state"] == "back" and notes["sister"]["state"] == "overdue"
        assert notes["sister"]["requested_from"] == "Cards Site"
        (md,) = (w.out / str(w.scans)).glob("*.md")
        assert f"- Cards Site: back on {day(date.today())}" in md.read_text()
        state = w.cli("removals")
        assert f"Cards Site: back on {day(date.today())} (gone on {day(date.today())}, asked on {day(asked)})" in state

        # the diffs between the scans, from the history
        assert "1 new, 1 still listed, 0 gone" in w.cli("diff", "2", "3")
        one_two = w.cli("diff", "1", "2")
        assert "0 new, 1 still listed, 1 gone, 0 not checkable" in one_two and "/person/jane-1" in one_two
        listing = w.cli("history")
        assert listing.count("finished") == 3 and "scan" in listing
    assert_private(w.history)
    assert_private(w.out)


def test_a_site_that_could_not_be_checked_never_makes_a_listing_removed(tmp_path: Path) -> None:
    with World(tmp_path) as w:
        w.scan(code=1)
        w.cli("optout", "sister", "--asked", "--law", "ccpa", "--request-id", "DROP-1", rules=True)
        assert "Sister Site: asked on" in w.cli("removals") and "not scanned since" in w.cli("removals")
        w.sister.routes.clear()
        w.sister.fallback = BLOCK  # blocked: it answers nothing, whatever it no longer shows
        second = w.scan(code=1)
        sister = {s["id"]: s for s in second["sites"]}["sister"]
        assert sister["status"] == "could_not_check" and not second["changes"]["gone"]
        state = w.cli("removals")
        assert "Sister Site: asked on" in state and "could not be checked since" in state and "gone" not in state

        # --recheck runs only the site that could not be checked, and now it answers without her
        w.sister.fallback = Canned(page(NO_RESULTS))
        before = len(w.cards.requests)
        third = w.scan("--recheck", code=0)
        assert [s["id"] for s in third["sites"]] == ["sister"] and len(w.cards.requests) == before
        assert len(third["changes"]["gone"]) == 1
        assert f"Sister Site: gone, seen on {day(date.today())}" in w.cli("removals")
        assert "recheck" in w.cli("history")


def test_quiet_prints_only_changes(tmp_path: Path) -> None:
    with World(tmp_path) as w:
        w.scan(code=1)
        w.scans += 1
        quiet = ["scan", "--profile", str(w.profile), "--out", str(w.out / "q"), "--quiet", "--timeout", "5"]
        assert w.cli(*quiet, rules=True, code=1).strip() == ""  # nothing changed: nothing printed
        w.cards.routes.clear()
        text = w.cli(*quiet, rules=True, code=1)
        change, *paths = text.strip().splitlines()
        assert change == f"gone from Cards Site: {w.cards.base}/person/jane-1"
        assert paths and all(Path(p).is_absolute() and Path(p).exists() for p in paths)  # then where the reports are


def test_sigkill_mid_scan_keeps_every_finished_site_and_resume_completes_it(tmp_path: Path) -> None:
    import asyncio

    from aiohttp import web

    release = {"slow": True}

    async def slow(request: web.Request) -> web.StreamResponse:
        while release["slow"]:
            await asyncio.sleep(0.05)
        return web.Response(text=page(NO_RESULTS), content_type="text/html")

    with World(tmp_path) as w, LocalServer(fallback=slow) as stuck:
        write_rule(w.rules, "stuck", "Stuck Site", stuck.base, [])
        cmd = [
            sys.executable, "-m", "exposure.cli", "scan", "--profile", str(w.profile), "--rules", str(w.rules),
            "--out", str(w.out / "killed"), "--format", "json", "--no-progress", "--timeout", "60",
            "--history-dir", str(w.history),
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        db = w.history / DB_NAME
        deadline = time.monotonic() + 60
        finished: set[str] = set()
        while time.monotonic() < deadline and finished != {"cards", "sister"}:
            time.sleep(0.1)
            if db.exists():
                try:
                    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as ro:
                        finished = {r[0] for r in ro.execute("SELECT site_id FROM sites")}
                except sqlite3.Error:
                    continue
        assert finished == {"cards", "sister"}, proc.stderr.read().decode() if proc.poll() is not None else ""
        assert stuck.requests  # the third site is in the middle of its requests
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

        with sqlite3.connect(db) as check:
            assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert {r[0] for r in check.execute("SELECT site_id FROM sites")} == {"cards", "sister"}
            assert check.execute("SELECT state FROM scans").fetchall() == [("running",)]
            assert check.execute("SELECT count(*) FROM listings").fetchone()[0] == 2
        assert "killed or running" in w.cli("history")

        release["slow"] = False
        original = w.profile.read_bytes()
        w.profile.write_bytes(original + b"# edited\n")
        changed = w.cli("scan", "--resume", "--profile", str(w.profile), rules=True, code=2)
        assert "the profile changed since scan" in changed.replace("\n", " ")
        w.profile.write_bytes(original)
        cards_before, sister_before = len(w.cards.requests), len(w.sister.requests)
        text = w.cli(
            "scan", "--resume", "--profile", str(w.profile), "--out", str(w.out / "resumed"), "--format", "json",
            "--no-progress", "--timeout", "5", rules=True, code=1,
        )  # fmt: skip
        assert "Resuming scan" in text and "1 site(s) to scan, 2 finished before" in text
        assert (len(w.cards.requests), len(w.sister.requests)) == (cards_before, sister_before)  # not asked again
        (report,) = (w.out / "resumed").glob("*.json")
        data = json.loads(report.read_text())
        assert {s["id"]: s["status"] for s in data["sites"]} == {
            "cards": "found",
            "sister": "found",
            "stuck": "not_found",
        }
        assert not data["scan"]["interrupted"]
        with sqlite3.connect(db) as check:
            assert check.execute("SELECT state FROM scans").fetchall() == [("finished",)]
        w.cli("scan", "--resume", "--profile", str(w.profile), rules=True, code=2)  # nothing left to resume
    assert_private(w.history)


def _png_pixels(browser: object, png: bytes, points: list[tuple[int, int]], tmp: Path) -> list[list[int]]:
    """Colours of a PNG at some points, read by drawing it on a canvas in Chromium."""
    from browser import Browser

    assert isinstance(browser, Browser)
    import base64

    (tmp / "look.html").write_text(f"<img id=i src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
    tab = browser.open(tmp / "look.html")
    js = """(pts) => { const i = document.getElementById('i'); const c = document.createElement('canvas');
      c.width = i.naturalWidth; c.height = i.naturalHeight; const x = c.getContext('2d'); x.drawImage(i, 0, 0);
      const at = ([a, b]) => Array.from(x.getImageData(a, b, 1, 1).data);
      return [[i.naturalWidth, i.naturalHeight, 0], ...pts.map(at)]; }"""
    result: list[list[int]] = tab.evaluate(js, [list(p) for p in points])
    tab.close()
    return result


def test_evidence_pages_screenshots_zip_and_verify(tmp_path: Path) -> None:
    import gzip

    from browser import chromium

    with World(tmp_path) as w:
        # the listing's page comes gzip'd: the evidence keeps the page, not the compressed transfer
        w.cards.routes["/person/jane-1"] = Canned(
            gzip.compress(DETAIL_TRAPS.encode()), headers={"Content-Encoding": "gzip"}
        )
        report = w.scan(code=1)
        paths_after_scan = list(w.cards.paths)
        assert not any(p in ("/tracker.png", "/beacon") for p in paths_after_scan)  # the screenshot fetched nothing
        db = sqlite3.connect(w.history / DB_NAME)
        rows = db.execute("SELECT url, http_status, sha256, file, shot_file, fetched_at FROM captures").fetchall()
        urls = {r[0] for r in rows}
        assert f"{w.cards.base}/person/jane-1" in urls and f"{w.cards.base}/name/Jane_Testwood" in urls
        for _url, status, digest, file, shot, fetched in rows:
            body = (w.history / "evidence" / file).read_bytes()
            import hashlib

            assert hashlib.sha256(body).hexdigest() == digest and status == 200 and fetched.endswith("Z")
            assert shot and (w.history / "evidence" / shot).read_bytes().startswith(b"\x89PNG")

        text = w.cli("evidence", "export", "--out", str(w.out))
        (zpath,) = w.out.glob("exposure-evidence-*.zip")
        assert report["scan"]["id"] in zpath.name
        manifest_sha = text.split("SHA-256 of its manifest.csv: ")[1].split()[0]
        with zipfile.ZipFile(zpath) as zf:
            names = zf.namelist()
            manifest = zf.read("manifest.csv").decode()
            import hashlib

            assert hashlib.sha256(manifest.encode()).hexdigest() == manifest_sha
            assert manifest.splitlines()[0] == "time,url,method,sha256,file,tool_version"
            detail = next(n for n in names if n.startswith("pages/") and zf.read(n) == DETAIL_TRAPS.encode())
            shot_name = next(
                n
                for n in names
                if n.startswith("screenshots/")
                and n.startswith("screenshots/" + detail.removeprefix("pages/").rsplit(".", 1)[0])
            )
            shot = zf.read(shot_name)
            assert any(n.startswith("report/") and n.endswith(".html") for n in names)
            from warcio.archiveiterator import ArchiveIterator

            records = [
                (r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), r.content_stream().read())
                for r in ArchiveIterator(io.BytesIO(zf.read("captures.warc.gz")))
            ]
        assert ("response", f"{w.cards.base}/person/jane-1", DETAIL_TRAPS.encode()) in records
        assert any(t == "conversion" and body == shot for t, _, body in records)
        ok = w.cli("evidence", "verify", str(zpath), history=False)
        assert "OK:" in ok and manifest_sha in ok

        # the screenshot: our banner on top, then the page as saved, rendered with scripts off
        with chromium() as browser:
            (size, banner, page_area) = _png_pixels(browser, shot, [(3, 3), (600, 300)], tmp_path)
        assert size[0] == 1280 and size[1] > 150
        assert banner[:3] == [255, 243, 176]  # the yellow banner with the URL and the times
        assert page_area[:3] != [255, 0, 0]  # the page's script did not run

        # one changed byte in one page: verify fails and names it
        tampered = tmp_path / "tampered.zip"
        with zipfile.ZipFile(zpath) as src, zipfile.ZipFile(tampered, "w") as dst:
            for info in src.infolist():
                data = src.read(info)
                if info.filename == detail:
                    data = data.replace(b"555-0142", b"555-0143", 1)
                dst.writestr(info, data)
        bad = w.cli("evidence", "verify", str(tampered), history=False, code=1)
        assert f"FAILED: {detail}: changed" in bad
        (tmp_path / "junk.zip").write_bytes(b"PK\x03\x04 not really")
        assert "not a zip file" in w.cli("evidence", "verify", str(tmp_path / "junk.zip"), history=False, code=2)
    assert_private(w.history)
    assert_private(w.out)


def test_letter_names_the_listings_and_only_what_they_show(tmp_path: Path) -> None:
    with World(tmp_path) as w:
        w.scan(code=1)
        ccpa = w.cli("letter", "cards", "--law", "ccpa", "--out", str(w.out))
        gdpr = w.cli("letter", "cards", "--law", "gdpr", "--out", str(w.out))
        w.cli("letter", "nowhere", "--out", str(w.out), code=2)
    (ccpa_file,) = w.out.glob("letter-cards-ccpa-*.txt")
    text = ccpa_file.read_text()
    assert f"{w.cards.base}/person/jane-1" in text and "(217) 555-0142" in text and "Jane M Testwood" in text
    assert "10 business days" in text and "45 calendar days" in text and "discloses nothing new" in text
    # nothing from the profile the listing does not show: her other phone, her email, her relatives
    for secret in ("555-0188", "jane.testwood@example.com", "Ellen", "Robert", "Holloway", "Evanston"):
        assert secret not in text and secret not in ccpa
    assert "Article 17" in gdpr and "Article 12(3)" in gdpr and "Article 19" in gdpr
    assert_private(w.out)


def test_json_history_of_earlier_versions_is_migrated(tmp_path: Path) -> None:
    with World(tmp_path) as w:
        w.history.mkdir(parents=True, mode=0o700)
        old = {
            "scan_id": "20260101T000000Z-aaaaaa",
            "finished_at": "2026-01-01T00:00:00+00:00",
            "interrupted": False,
            "sites": {"cards": "found"},
            "findings": {
                "0123456789abcdef": {
                    "site_id": "cards",
                    "site_name": "Cards Site",
                    "url": "http://x/old",
                    "found_by": [],
                }
            },
        }
        legacy = w.history / "scan-20260101T000000Z-aaaaaa.json"
        legacy.write_text(json.dumps(old))
        (w.history / "scan-damaged.json").write_text("{not json")
        report = w.scan(code=1)
        assert report["changes"]["previous_scan"] == "20260101T000000Z-aaaaaa"
        assert [u["url"] for u in report["changes"]["unknown"]] == ["http://x/old"]  # not proved gone: no searches
        assert not legacy.exists() and (w.history / "scan-damaged.json").exists()
        assert "migrated" in w.cli("history")


def test_forget_deletes_everything_it_kept_and_says_what(tmp_path: Path) -> None:
    with World(tmp_path) as w:
        w.scan(code=1)
        w.cli("letter", "cards", "--out", str(w.out))
        w.cli("evidence", "export", "--out", str(w.out))
        kept = [w.profile, w.history / DB_NAME, *w.out.rglob("*.json"), *w.out.glob("*.zip"), *w.out.glob("letter-*")]
        evidence = [p for p in (w.history / "evidence").rglob("*") if p.is_file()]
        assert evidence and all(p.exists() for p in kept)
        mine = w.out / "notes.txt"  # not ours: stays
        mine.write_text("keep me")
        w.cli("forget", "--profile", str(w.profile), "--out", str(w.out), code=2)  # no terminal, no --yes
        assert all(p.exists() for p in kept)
        text = w.cli("forget", "--yes", "--profile", str(w.profile), "--out", str(w.out))
    for p in [*kept, *evidence]:
        assert not p.exists(), p
        assert f"removed {p}" in text.replace("\n", "") or str(p) in text
    assert mine.read_text() == "keep me"
    assert not (w.history / "evidence").exists()
    assert not [p for p in w.history.iterdir() if p.name.startswith(DB_NAME)]


def test_a_ccpa_request_is_overdue_after_45_days_whatever_the_site_usually_takes() -> None:
    # one function, on values: the end-to-end tests above cover the rest of the states on real scans
    from exposure.models import Remembered, Status
    from exposure.removal import Observation, Request, State, follow

    asked = date(2026, 1, 1)
    listing = {"f1": Remembered("cards", "Cards Site", "http://x/p/1", ("http://x/s",))}

    def seen(on: date) -> Observation:
        return Observation("s", "cards", f"{on.isoformat()}T09:00:00+00:00", Status.FOUND, listing, None)

    ccpa = Request(1, "cards", "Cards Site", asked, f"{asked.isoformat()}T08:00:00+00:00", "email", "ccpa", days=3)
    at_40 = follow(ccpa, "cards", "Cards Site", [seen(asked + timedelta(days=40))])
    assert at_40.state is State.STILL_LISTED and at_40.text.endswith("still listed after 40 days")
    at_50 = follow(ccpa, "cards", "Cards Site", [seen(asked + timedelta(days=50))])
    assert at_50.state is State.OVERDUE
    assert at_50.text.endswith("after 50 days: overdue (a CCPA request must be answered within 45 days)")
    plain = Request(2, "cards", "Cards Site", asked, "", "web form", days=3)
    assert follow(plain, "cards", "Cards Site", [seen(asked + timedelta(days=4))]).state is State.OVERDUE
    # an older history's scan without its searches proves nothing gone, even with no listing in it
    empty = Observation("s2", "cards", "2026-03-01T09:00:00+00:00", Status.COULD_NOT_CHECK, {}, None)
    assert follow(plain, "cards", "Cards Site", [seen(asked + timedelta(days=1)), empty]).state is State.STILL_LISTED


def test_hostile_history_and_evidence_files_get_a_message_not_a_traceback(tmp_path: Path) -> None:
    history = tmp_path / "history"
    history.mkdir(mode=0o700)
    (history / DB_NAME).write_bytes(b"this is not a database" * 100)
    for args in (["history"], ["diff"], ["removals"], ["evidence", "export"]):
        result = runner.invoke(app, [*args, "--history-dir", str(history)])
        assert result.exit_code == 2 and str(history / DB_NAME) in result.output.replace("\n", ""), args
        assert "Traceback" not in result.output
    empty = tmp_path / "empty"
    result = runner.invoke(app, ["diff", "--history-dir", str(empty)])
    assert result.exit_code == 2 and "no scans yet" in result.output
    # a zip that lists a file it lacks, and holds one it does not list
    z = tmp_path / "odd.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("manifest.csv", "time,url,method,sha256,file,tool_version\nx,u,m," + "0" * 64 + ",pages/a.html,1\n")
        zf.writestr("pages/b.html", "hello")
    result = runner.invoke(app, ["evidence", "verify", str(z)])
    assert result.exit_code == 1
    assert (
        "pages/a.html: missing from the zip" in result.output and "pages/b.html: not in the manifest" in result.output
    )


def test_sigkill_at_random_moments_never_damages_the_database(tmp_path: Path) -> None:
    import asyncio
    import random

    from aiohttp import web

    from exposure.history import decode_site

    rng = random.Random(13)

    async def uneven(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(rng.uniform(0.0, 0.4))  # sites finish one after another over about a second
        return web.Response(text=page(NO_RESULTS), content_type="text/html")

    with World(tmp_path) as w, LocalServer(fallback=uneven) as slow:
        for n in range(3, 9):
            write_rule(w.rules, f"more{n}", f"More {n}", slow.base, [])
        db = w.history / DB_NAME
        partial = 0
        for kill in range(5):
            cmd = [
                sys.executable, "-m", "exposure.cli", "scan", "--profile", str(w.profile), "--rules", str(w.rules),
                "--out", str(w.out / "k"), "--format", "json", "--no-progress", "--history-dir", str(w.history),
            ]  # fmt: skip
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # wait until this scan saved a site, then kill it at a random moment
                try:
                    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as ro:
                        started = ro.execute("SELECT id FROM scans ORDER BY started_at").fetchall()
                        if (
                            len(started) > kill
                            and ro.execute("SELECT count(*) FROM sites WHERE scan_id=?", started[-1]).fetchone()[0]
                        ):
                            break
                except sqlite3.Error:
                    pass  # not created yet
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            with sqlite3.connect(db) as check:
                assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
                for (result,) in check.execute("SELECT result FROM sites"):
                    assert decode_site(result) is not None  # every site saved is whole
                done = check.execute(
                    "SELECT count(*) FROM sites WHERE scan_id=(SELECT id FROM scans ORDER BY started_at DESC LIMIT 1)"
                ).fetchone()[0]
                partial += 0 < done < 8
        assert partial  # some kills did land between two sites
