"""`exposure demo --serve` keeps the demo sites up after the scan, so the report's links work: a real
Chromium opens the demo report from disk and clicks the first "remove me" button, which must land on the
demo site's opt-out form. Ctrl-C then stops the sites and the demo exits 0."""

from __future__ import annotations

import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from browser import chromium


def read_until(proc: subprocess.Popen[str], text: str, timeout: float = 120) -> str:
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in " ".join(seen.split()):  # the console wraps long lines where it likes
        left = deadline - time.monotonic()
        assert left > 0, f"{text!r} never came:\n{seen}"
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            line = proc.stdout.readline()
            assert line, f"the demo ended before {text!r}:\n{seen}"
            seen += line
    return seen


def test_the_first_remove_me_link_of_the_demo_report_works_while_served(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "exposure.cli", "demo", "--serve", "--out", str(out), "--format", "html",
         "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
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
    assert code == 0, proc.stderr.read() if proc.stderr else ""
    assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")


def test_without_serve_the_demo_says_its_links_now_lead_nowhere(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "exposure.cli", "demo", "--no-serve", "--out", str(tmp_path), "--format", "json",
         "--no-progress"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "exposure demo --serve" in " ".join(done.stdout.split())
