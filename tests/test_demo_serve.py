"""`exposure demo --serve` keeps the demo sites up after the scan, so the report's links work: a real
Chromium opens the demo report from disk and clicks the first "remove me" button, which must land on the
demo site's opt-out form. Ctrl-C then stops the sites and the demo exits 0."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from browser import chromium


def read_until(proc: subprocess.Popen[bytes], text: str, timeout: float = 120) -> str:
    """What the demo printed, up to and including `text`. Read straight from the pipe: a buffered
    `readline()` can take in several lines at once, and `select` then waits for bytes already read."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    while text not in " ".join(seen.decode("utf-8", "replace").split()):  # the console wraps long lines
        left = deadline - time.monotonic()
        assert left > 0, f"{text!r} never came:\n{seen.decode('utf-8', 'replace')}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 65536)
            assert chunk, f"the demo ended before {text!r}:\n{seen.decode('utf-8', 'replace')}"
            seen += chunk
    return seen.decode("utf-8", "replace")


def test_the_first_remove_me_link_of_the_demo_report_works_while_served(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    errors = tmp_path / "stderr.txt"
    # stderr goes to a file: a pipe nobody reads while the demo runs would stop it once full
    with errors.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "exposure.cli", "demo", "--serve", "--out", str(out), "--format", "html",
             "--no-progress"],
            stdout=subprocess.PIPE, stderr=err,
        )  # fmt: skip
    try:
        said = read_until(proc, "press Ctrl-C to stop")
        assert "links work" in said
        (html,) = out.glob("*.html")
        with chromium(allow=("http://127.0.0.1:",)) as browser:
            page = browser.open(html)
            button = page.locator("ol.first a.button").first
            assert button.inner_text().startswith("Ask ")
            with browser.context.expect_page() as opened:
                button.click()
            optout = opened.value
            optout.wait_for_load_state()
            assert optout.url == button.get_attribute("href")
            assert "Remove your information" in optout.locator("h1").all_inner_texts()
            assert optout.locator("form.opt-out-form").count() == 1
        proc.send_signal(signal.SIGINT)
        code = proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, errors.read_text()
    assert "Traceback" not in errors.read_text()


def test_without_serve_the_demo_says_its_links_now_lead_nowhere(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "exposure.cli", "demo", "--no-serve", "--out", str(tmp_path), "--format", "json",
         "--no-progress"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "exposure demo --serve" in " ".join(done.stdout.split())
