"""`exposure init` and `exposure ignore` as a new user meets them: init in a real terminal (a pty), asking
again until each answer is right, Ctrl-C writing nothing; ignore editing the profile in place."""

from __future__ import annotations

import os
import pty
import select
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FIXTURES
from typer.testing import CliRunner

from exposure.cli import app
from exposure.profile import load_profile

runner = CliRunner()


class Terminal:
    """`exposure init` on a pseudo-terminal, so it sees a person at a keyboard."""

    def __init__(self, *args: str) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exposure.cli", "init", *args],
            stdin=slave, stdout=slave, stderr=slave, close_fds=True,
            env={**os.environ, "COLUMNS": "200", "TERM": "dumb"},
        )  # fmt: skip
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} never came; got:\n{self.seen}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"{text!r} never came (output ended); got:\n{self.seen}")
                self.seen += chunk.decode("utf-8", "replace").replace("\r", "")
        return self.seen

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def wait(self) -> int:
        code = self.proc.wait(20)
        try:
            while True:
                ready, _, _ = select.select([self.master], [], [], 0.2)
                if not ready:
                    break
                chunk = os.read(self.master, 4096)
                if not chunk:
                    break
                self.seen += chunk.decode("utf-8", "replace").replace("\r", "")
        except OSError:
            pass
        os.close(self.master)
        return code


def test_init_asks_again_until_each_answer_is_right(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "profile.toml"
    t = Terminal("--profile", str(path))
    for prompt, wrong, problem, right in (
        ("Full name", "   ", "give a first and a last name", "Jane Marie Testwood"),
        ("Other names", "", "", "Janie Testwood"),
        ("Birth year", "nineteen", "is not a year", "1979"),
        ("Phone numbers", "217 555 014", "is not a full phone number for US", "(217) 555-0142"),
        ("Email addresses", "jane.example.com", "is not an email address", "jane.testwood@example.com"),
        ("Addresses", "412 N Walnut St", "needs a city and state", "412 N Walnut St Apt 3, Springfield, IL 62702"),
        ("Relatives", "", "", "Robert Testwood"),
    ):
        t.expect(prompt)
        if problem:
            t.type(wrong)
            t.expect(problem)
            t.seen = t.seen[: t.seen.rfind(problem)]  # look for the prompt again after the complaint
            t.expect(prompt)
        t.type(right)
    assert t.wait() == 0, t.seen
    assert f"Profile written to {path}" in t.seen
    assert f"exposure scan --profile {path}" in t.seen  # the next command to run
    p = load_profile(path)
    assert p.name.original == "Jane Marie Testwood" and p.birth_year == 1979 and p.phones == ("2175550142",)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_ctrl_c_in_init_exits_130_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "profile.toml"
    t = Terminal("--profile", str(path))
    t.expect("Full name")
    t.type("Jane Testwood")
    t.expect("Other names")
    # a person takes a moment: a signal landing between the prompt's write and the read() after it is only
    # seen once the read returns (CPython's input()), which a keypress would do but this test does not
    time.sleep(0.5)
    t.proc.send_signal(signal.SIGINT)
    assert t.wait() == 130, t.seen
    assert "nothing was written" in t.seen and "Traceback" not in t.seen
    assert not path.exists() and not path.parent.exists()


PROFILE_TEXT = """\
# my profile: keep it private
name = "Jane Marie Testwood"   # legal name
birth_year = 1979
country = "US"
phones = ["(217) 555-0142"]
addresses = ["412 N Walnut St Apt 3, Springfield, IL 62702"]

# listings that are someone else
not_me = [
  "https://a.example/p/1",  # the Tucson one
]
"""


def test_ignore_keeps_the_profile_as_written(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(PROFILE_TEXT)
    result = runner.invoke(app, ["ignore", "https://b.example/p/2", "--profile", str(path)])
    assert result.exit_code == 0, result.output
    text = path.read_text()
    # comments, order and the country key survive; only the new URL is added
    assert text == PROFILE_TEXT.removesuffix("]\n") + '  "https://b.example/p/2",\n]\n'
    for kept in ("# my profile: keep it private", "# legal name", 'country = "US"', "# the Tucson one"):
        assert kept in text
    assert text.index("birth_year") < text.index("country") < text.index("phones")
    assert load_profile(path).not_me == frozenset({"https://a.example/p/1", "https://b.example/p/2"})
    again = runner.invoke(app, ["ignore", "https://b.example/p/2", "--profile", str(path)])
    assert again.exit_code == 0 and "Already marked" in again.output and path.read_text() == text


def test_ignore_list_and_remove(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(PROFILE_TEXT)
    listed = runner.invoke(app, ["ignore", "--list", "--profile", str(path)])
    assert listed.exit_code == 0 and listed.output.split() == ["https://a.example/p/1"]
    removed = runner.invoke(app, ["ignore", "--remove", "https://a.example/p/1", "--profile", str(path)])
    assert removed.exit_code == 0, removed.output
    assert load_profile(path).not_me == frozenset() and "# my profile: keep it private" in path.read_text()
    missing = runner.invoke(app, ["ignore", "--remove", "https://a.example/p/1", "--profile", str(path)])
    assert missing.exit_code == 2 and "is not marked" in missing.output


@pytest.mark.parametrize("url", ["a.example/p/1", "javascript:alert(1)", "file:///etc/passwd", "https://", "not me"])
def test_ignore_takes_only_web_addresses(tmp_path: Path, url: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(PROFILE_TEXT)
    result = runner.invoke(app, ["ignore", url, "--profile", str(path)])
    assert result.exit_code == 2 and "http://" in result.output
    assert path.read_text() == PROFILE_TEXT


def test_ignore_adds_not_me_when_the_profile_has_none(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text((FIXTURES / "profiles" / "default.toml").read_text().replace("not_me", "# not_me"))
    result = runner.invoke(app, ["ignore", "https://c.example/x", "--profile", str(path)])
    assert result.exit_code == 0, result.output
    assert load_profile(path).not_me == frozenset({"https://c.example/x"})
