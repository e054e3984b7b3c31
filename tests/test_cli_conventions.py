"""The conventions a new user reaches for: help with -h and with no arguments (exit 0), --version, shell
completion, help without raw type names, --quiet/--verbose, progress, absolute report paths, --open."""

from __future__ import annotations

import io
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES
from rich.console import Console
from servers import Canned, LocalServer
from test_cli import rules_dir
from test_pipeline import DETAIL_1, JANE_CARD, NO_RESULTS, page
from typer.testing import CliRunner

from exposure import __version__
from exposure.cli import app
from exposure.progress import ScanProgress, Verbosity

runner = CliRunner()
PROFILE = FIXTURES / "profiles" / "default.toml"


def _all_commands() -> list[list[str]]:
    """Every command and group of the CLI, walked from the click tree, so a new one is covered too."""
    import typer.main

    out: list[list[str]] = []

    def walk(cmd: object, path: list[str]) -> None:
        out.append(path)
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return out


COMMANDS = _all_commands()


def test_exposure_alone_prints_help_and_exits_0() -> None:
    result = runner.invoke(app, [])
    assert result.exit_code == 0 and "Usage" in result.output and "scan" in result.output


def test_version_and_short_help() -> None:
    assert runner.invoke(app, ["--version"]).output.strip() == f"exposure {__version__}"
    for cmd in COMMANDS:
        result = runner.invoke(app, [*cmd, "-h"])
        assert result.exit_code == 0 and "Usage" in result.output, cmd


def test_shell_completion_is_offered() -> None:
    assert "--install-completion" in runner.invoke(app, ["--help"]).output


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "exposure")
def test_help_shows_no_raw_type_names(cmd: list[str]) -> None:
    text = runner.invoke(app, [*cmd, "--help"], env={"COLUMNS": "200"}).output
    assert not re.search(r"<[A-Za-z]", text), text  # <bool>, <path>, <list[Path]>, <int range>...


def run(tmp: Path, base: str, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A real `exposure scan` whose stderr is a pipe, not a terminal."""
    return subprocess.run(
        [sys.executable, "-m", "exposure.cli", "scan", "--profile", str(PROFILE), "--rules", str(rules_dir(tmp, base)),
         "--no-history", *extra],
        cwd=tmp, capture_output=True, text=True, timeout=120, check=False, env={**os.environ, **(env or {})},
    )  # fmt: skip


@pytest.fixture
def listed_site() -> LocalServer:
    routes = {"/name/Jane_Testwood": Canned(page(JANE_CARD)), "/person/jane-1": Canned(DETAIL_1)}
    return LocalServer(routes, fallback=Canned(page(NO_RESULTS)))


def test_off_a_terminal_each_finished_site_is_one_line_and_paths_are_absolute(
    tmp_path: Path, listed_site: LocalServer
) -> None:
    with listed_site as server:
        done = run(tmp_path, server.base, "--out", "reports")  # a relative --out
    assert done.returncode == 1, done.stderr
    assert "[1/1] Cards Site: listed (1)" in done.stderr.splitlines()
    html = tmp_path / "reports" / next(p.name for p in (tmp_path / "reports").glob("*.html"))
    assert f"Report: {html}" in done.stdout and html.as_uri() in done.stdout
    assert "request(s) sent" in done.stdout and "at most 100 to any one site" in done.stdout


def test_quiet_prints_only_what_changed_and_the_report_paths_and_verbose_every_request(
    tmp_path: Path, listed_site: LocalServer
) -> None:
    with listed_site as server:
        quiet = run(tmp_path, server.base, "--out", "q", "-q")
        verbose = run(tmp_path, server.base, "--out", "v", "--verbose")
    assert quiet.returncode == 1 and quiet.stderr == ""
    lines = quiet.stdout.splitlines()
    assert lines[0].startswith("listed on Cards Site: http://")  # no history: every listing is news
    written = sorted(p.name for p in (tmp_path / "q").iterdir())
    assert sorted(Path(line).name for line in lines[1:]) == written
    assert all(Path(line).is_absolute() for line in lines[1:])
    assert "    name: Jane Testwood: results (HTTP 200)" in verbose.stderr
    assert "detail page of" in verbose.stderr


def test_open_hands_the_html_report_to_the_default_browser(tmp_path: Path, listed_site: LocalServer) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "fake-browser"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(stat.S_IRWXU)
    with listed_site as server:
        done = run(tmp_path, server.base, "--out", "o", "--open", env={"BROWSER": str(browser)})
    assert done.returncode == 1, done.stderr
    (html,) = (tmp_path / "o").glob("*.html")
    assert opened.read_text().split() == [html.as_uri()]


def test_on_a_terminal_progress_shows_finished_total_and_the_sites_running_now() -> None:
    from report.factory import demo_scan

    sites = demo_scan().sites
    buffer = io.StringIO()
    term = Console(file=buffer, force_terminal=True, width=160)
    with ScanProgress(term, [s.site.name for s in sites], Verbosity.NORMAL) as shown:
        shown.site_done(sites[0])
        shown._bar.refresh()  # type: ignore[union-attr]
        screen = buffer.getvalue()
    assert f"1/{len(sites)}" in screen
    assert f"now: {sites[1].site.name}, {sites[2].site.name}, {sites[3].site.name} and {len(sites) - 4} more" in screen
