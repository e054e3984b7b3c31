"""The CLI through Typer's runner (and one real process, for Ctrl-C)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from conftest import FIXTURES
from servers import Canned, LocalServer
from test_pipeline import CARDS_RULE, DETAIL_1, JANE_CARD, NO_RESULTS, page
from typer.testing import CliRunner

from exposure.cli import app

runner = CliRunner()
PROFILE = FIXTURES / "profiles" / "default.toml"


def rules_dir(tmp: Path, base: str) -> Path:
    d = tmp / "rules"
    d.mkdir(exist_ok=True)
    (d / "cards.toml").write_text(CARDS_RULE.format(id="cards", host=base.removeprefix("http://"), base=base))
    return d


def test_scan_exit_1_when_listed_and_reports_are_private(tmp_path: Path) -> None:
    routes = {"/name/Jane_Testwood": Canned(page(JANE_CARD)), "/person/jane-1": Canned(DETAIL_1)}
    with LocalServer(routes, fallback=Canned(page(NO_RESULTS))) as server:
        out = tmp_path / "out"
        result = runner.invoke(
            app,
            [
                "scan",
                "--profile",
                str(PROFILE),
                "--rules",
                str(rules_dir(tmp_path, server.base)),
                "--out",
                str(out),
                "--format",
                "json",
                "--timeout",
                "5",
            ],
        )
    assert result.exit_code == 1, result.output
    (report,) = out.glob("exposure-*.json")
    assert stat.S_IMODE(report.stat().st_mode) == 0o600 and stat.S_IMODE(out.stat().st_mode) == 0o700
    data = json.loads(report.read_text())
    assert data["schema_version"] == 1 and data["sites"][0]["status"] == "found"
    assert "LISTED" in result.output


def test_scan_exit_0_when_not_listed(tmp_path: Path) -> None:
    with LocalServer(fallback=Canned(page(NO_RESULTS))) as server:
        result = runner.invoke(
            app,
            [
                "scan",
                "--profile",
                str(PROFILE),
                "--rules",
                str(rules_dir(tmp_path, server.base)),
                "--out",
                str(tmp_path / "out"),
                "--format",
                "json",
            ],
        )
    assert result.exit_code == 0, result.output
    assert "not listed" in result.output


def test_bad_profile_exit_2_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text('name = "Jane Doe"\nphones = ["1"]\n')
    result = runner.invoke(app, ["scan", "--profile", str(bad), "--rules", str(FIXTURES)])
    assert result.exit_code == 2
    assert "p.toml" in result.output and "phones" in result.output


def test_bad_rule_exit_2_names_file_and_key(tmp_path: Path) -> None:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "x.toml").write_text('id = "x"\nname = "X"\ndomain = "example.com"\ncolour = "red"\n')
    result = runner.invoke(app, ["scan", "--profile", str(PROFILE), "--rules", str(d)])
    assert result.exit_code == 2
    assert "x.toml" in result.output and "colour" in result.output


def test_init_with_flags_writes_a_private_profile(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "profile.toml"
    result = runner.invoke(
        app,
        [
            "init",
            "--profile",
            str(path),
            "--name",
            "Jane Doe",
            "--phone",
            "217 555 0142",
            "--address",
            "1 Main St, Springfield, IL 62701",
            "--birth-year",
            "1980",
        ],
    )
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # a folder the user had keeps its mode (it was made 0700 before), with a warning that others can list it
    mine = tmp_path / "mine"
    mine.mkdir()
    mine.chmod(0o755)
    kept = runner.invoke(app, ["init", "--profile", str(mine / "p.toml"), "--name", "Jane Doe"])
    assert kept.exit_code == 0 and stat.S_IMODE(mine.stat().st_mode) == 0o755 and "can be listed" in kept.output
    again = runner.invoke(app, ["init", "--profile", str(path), "--name", "Jane Doe"])
    assert again.exit_code == 2 and "--force" in again.output
    bad = runner.invoke(app, ["init", "--profile", str(tmp_path / "b.toml"), "--name", "Jane Doe", "--email", "x"])
    assert bad.exit_code == 2 and "emails" in bad.output


def test_ignore_adds_to_not_me(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(PROFILE.read_text())
    result = runner.invoke(app, ["ignore", "https://site.example/p/1", "--profile", str(path)])
    assert result.exit_code == 0
    from exposure.profile import load_profile

    assert "https://site.example/p/1" in load_profile(path).not_me


def test_rules_check_lists_the_catalog() -> None:
    result = runner.invoke(app, ["rules", "check"])
    assert result.exit_code == 0 and "rule(s) valid" in result.output


def test_help_documents_exit_codes() -> None:
    result = runner.invoke(app, ["--help"])
    assert "Exit codes" in result.output and "130" in result.output


def test_ctrl_c_stops_quickly_and_still_writes_the_report(tmp_path: Path) -> None:
    import asyncio

    from aiohttp import web

    async def slow(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/phone/"):
            await asyncio.sleep(30)
        return web.Response(text=page(NO_RESULTS), content_type="text/html")

    with LocalServer(fallback=slow) as server:
        d = rules_dir(tmp_path, server.base)
        fast = tmp_path / "rules-fast"
        fast.mkdir()
        # a second site that answers at once, so something is already checked when Ctrl-C comes
        (fast / "quick.toml").write_text(
            CARDS_RULE.format(id="quick", host=server.base.removeprefix("http://"), base=server.base)
            .replace('kind = "phone"', 'kind = "name"')
            .replace("/phone/{phone_area}-{phone_exchange}-{phone_line}", "/n2/{first}")
        )
        out = tmp_path / "out"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exposure.cli",
                "scan",
                "--profile",
                str(PROFILE),
                "--rules",
                str(d),
                "--rules",
                str(fast),
                "--out",
                str(out),
                "--format",
                "json",
                "--no-progress",
                "--timeout",
                "60",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        deadline = time.monotonic() + 20
        while not any(p.startswith("/phone/") for p in server.paths) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        code = proc.wait(10)
        stopped_in = time.monotonic() - t0
    stdout, stderr = proc.communicate()
    assert code == 130, f"exit {code}\nstdout: {stdout.decode()}\nstderr: {stderr.decode()}"
    assert stopped_in < 2.5
    (report,) = out.glob("*.json")
    data = json.loads(report.read_text())
    assert data["scan"]["interrupted"] is True
    sites = {s["id"]: s for s in data["sites"]}
    assert sites["quick"]["status"] == "not_found" and not sites["quick"]["interrupted"]
    assert sites["cards"]["status"] == "could_not_check" and sites["cards"]["reason"] == "interrupted"


def test_a_second_ctrl_c_exits_at_once(tmp_path: Path) -> None:
    import asyncio

    from aiohttp import web

    async def hang(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(30)
        return web.Response(text="late")

    with LocalServer(fallback=hang) as server:
        d = rules_dir(tmp_path, server.base)
        proc = subprocess.Popen(
            [sys.executable, "-m", "exposure.cli", "scan", "--profile", str(PROFILE), "--rules", str(d),
             "--out", str(tmp_path / "out"), "--format", "json", "--no-progress", "--timeout", "60"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        code = proc.wait(10)
        # 130 from our handler, or -SIGINT when the press lands while the interpreter is already exiting
        # (Python then restores the system's default action): either way it quits at once
        assert code in (130, -signal.SIGINT) and time.monotonic() - t0 < 1.0
        assert b"Traceback" not in proc.communicate()[1]
