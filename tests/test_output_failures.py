"""Output that cannot be written: a clear line naming the path and the cause, exit 2, no traceback, and
nothing already scanned is lost. Run as real processes where the failure comes from the system itself."""

from __future__ import annotations

import json
import resource
import signal
import stat
import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES
from servers import Canned, LocalServer
from test_cli import rules_dir
from test_pipeline import NO_RESULTS, page
from typer.testing import CliRunner

from exposure.cli import app
from exposure.report.write import fallback_dirs

runner = CliRunner()
PROFILE = FIXTURES / "profiles" / "default.toml"


def scan_args(tmp: Path, base: str, out: Path, *extra: str) -> list[str]:
    return ["scan", "--profile", str(PROFILE), "--rules", str(rules_dir(tmp, base)), "--out", str(out), *extra]


def test_out_on_a_file_is_refused_before_scanning(tmp_path: Path) -> None:
    blocker = tmp_path / "reports"
    blocker.write_text("my notes")
    with LocalServer(fallback=Canned(page(NO_RESULTS))) as server:
        result = runner.invoke(app, scan_args(tmp_path, server.base, blocker, "--no-history"))
        asked = list(server.paths)
    assert result.exit_code == 2, result.output
    assert f"cannot write the reports to {blocker}: it is a file, not a folder" in result.output
    assert "Traceback" not in result.output and blocker.read_text() == "my notes"
    assert asked == []  # nothing was scanned, so nothing is lost


def test_an_existing_out_folder_keeps_its_mode_and_is_warned_about(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    history = tmp_path / "history"
    history.mkdir()
    history.chmod(0o750)
    with LocalServer(fallback=Canned(page(NO_RESULTS))) as server:
        result = runner.invoke(
            app, scan_args(tmp_path, server.base, shared, "--history-dir", str(history), "--format", "json")
        )
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755 and stat.S_IMODE(history.stat().st_mode) == 0o750
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in history.iterdir()) and any(history.iterdir())
    assert "can be listed by every user" in result.output
    (report,) = shared.glob("*.json")
    assert stat.S_IMODE(report.stat().st_mode) == 0o600


def _limit_file_size(size: int) -> None:
    """In the child: files larger than `size` bytes cannot be written (EFBIG), as on a nearly full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


def test_a_report_the_disk_refuses_leaves_the_scans_json_in_the_fallback_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with LocalServer(fallback=Canned(page(NO_RESULTS))) as server:
        done = subprocess.run(
            [sys.executable, "-m", "exposure.cli", *scan_args(tmp_path, server.base, out, "--format", "html",
             "--no-progress", "--no-history")],
            capture_output=True, text=True, timeout=120, check=False,
            preexec_fn=lambda: _limit_file_size(12_000),  # the HTML report is larger, its JSON smaller
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("error:")]
    assert f"cannot write the report {out}/exposure-" in line and ".html: the file is too large" in line
    saved = Path(line.rsplit("were saved to ", 1)[1])
    assert saved.parent == fallback_dirs()[0] and saved.suffix == ".json"
    data = json.loads(saved.read_text())
    assert data["sites"][0]["status"] == "not_found"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600 and not list(out.glob("*.html"))


def test_an_unwritable_history_folder_is_said_before_anything_is_scanned(tmp_path: Path) -> None:
    # the history keeps each site as it finishes (so a killed scan loses nothing), so it is opened first: a
    # folder that cannot be made is refused before any site is asked, and nothing scanned is lost
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    history = blocker / "history"
    out = tmp_path / "out"
    with LocalServer(fallback=Canned(page(NO_RESULTS))) as server:
        result = runner.invoke(
            app, scan_args(tmp_path, server.base, out, "--format", "json", "--history-dir", str(history))
        )
        asked = list(server.paths)
    assert result.exit_code == 2, result.output
    assert f"cannot open the scan history in {history}" in result.output
    assert "a part of the path is a file, not a folder" in result.output
    assert "Traceback" not in result.output
    assert asked == [] and not list(out.glob("*.json"))
