"""The suite never touches the real user's folders: conftest gives it a HOME and XDG folders of its own,
and a real `exposure scan` with every default writes its history there, not in the user's data folder."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES, REAL_ENV, TEST_HOME
from servers import Canned, LocalServer
from test_cli import rules_dir
from test_pipeline import NO_RESULTS, page

from exposure.history import default_history_dir
from exposure.profile import default_profile_path


def real_folders() -> list[Path]:
    """Where exposure would write for the real user: their config, data and state folders."""
    home = Path(REAL_ENV["HOME"] or pwd.getpwuid(os.getuid()).pw_dir)
    return [
        Path(REAL_ENV["XDG_CONFIG_HOME"] or home / ".config") / "exposure",
        Path(REAL_ENV["XDG_DATA_HOME"] or home / ".local" / "share") / "exposure",
        Path(REAL_ENV["XDG_STATE_HOME"] or home / ".local" / "state") / "exposure",
    ]


def test_default_folders_are_the_suites_own() -> None:
    assert Path(os.environ["HOME"]) == TEST_HOME
    for path in (default_profile_path(), default_history_dir()):
        assert path.is_relative_to(TEST_HOME), path
        assert not any(path.is_relative_to(real) for real in real_folders())


def test_a_scan_with_every_default_writes_nothing_in_the_real_users_folders(tmp_path: Path) -> None:
    with LocalServer(fallback=Canned(page(NO_RESULTS))) as server:
        rules = rules_dir(tmp_path, server.base)
        done = subprocess.run(
            [sys.executable, "-m", "exposure.cli", "scan", "--profile", str(FIXTURES / "profiles" / "default.toml"),
             "--rules", str(rules), "--format", "json", "--no-progress"],
            cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (report,) = (tmp_path / "reports").glob("exposure-*.json")
    scan_id = report.stem.removeprefix("exposure-")
    history = default_history_dir()
    import sqlite3

    with sqlite3.connect(history / "exposure.sqlite3") as db:
        kept = [row[0] for row in db.execute("SELECT id FROM scans")]
    assert scan_id in kept, "the history went somewhere else"
    for real in real_folders():
        if real.exists():
            assert not any(scan_id in p.name for p in real.rglob("*")), f"written under {real}"
