"""Hostile TOML: files too large, nesting too deep for the parser, and keys whose dotted parts make the
parser's work grow with their square. Each is refused at once with exit 2, naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES
from typer.testing import CliRunner

from exposure.cli import app

runner = CliRunner()
RULE_HEAD = 'id = "x"\nname = "X"\ndomain = "example.com"\n'
PROFILE_HEAD = (FIXTURES / "profiles" / "default.toml").read_text()

HOSTILE = {
    "deep arrays": "deep = " + "[" * 5000 + "]" * 5000 + "\n",
    "deep inline tables": "deep = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n",
    # 200 KB of one dotted key: minutes in tomllib before the bound
    "dotted key": ".".join(["a"] * 100_000) + " = 1\n",
    "dotted table header": "[" + ".".join(['"a"'] * 50_000) + "]\n",
}


@pytest.mark.parametrize("shape", sorted(HOSTILE))
def test_a_hostile_rule_is_refused_naming_the_file(tmp_path: Path, shape: str) -> None:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "x.toml").write_text(RULE_HEAD + HOSTILE[shape])
    result = runner.invoke(app, ["rules", "check", "--rules", str(d)])
    assert result.exit_code == 2, result.output
    assert "x.toml" in result.output and "Traceback" not in result.output
    assert "nested too deeply" in result.output or "dotted parts" in result.output


@pytest.mark.parametrize("shape", sorted(HOSTILE))
def test_a_hostile_profile_is_refused_naming_the_file(tmp_path: Path, shape: str) -> None:
    p = tmp_path / "me.toml"
    p.write_text(PROFILE_HEAD + HOSTILE[shape])
    result = runner.invoke(app, ["scan", "--profile", str(p), "--out", str(tmp_path / "out"), "--no-history"])
    assert result.exit_code == 2, result.output
    assert "me.toml" in result.output and ("nested too deeply" in result.output or "dotted parts" in result.output)


def test_size_bounds_one_megabyte_for_a_rule_256_kb_for_a_profile(tmp_path: Path) -> None:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "x.toml").write_text(RULE_HEAD + "# padding\n" * 110_000)  # 1.1 MB of comments
    result = runner.invoke(app, ["rules", "check", "--rules", str(d)])
    assert result.exit_code == 2 and "x.toml" in result.output and "larger than 1024 KB" in result.output
    p = tmp_path / "me.toml"
    p.write_text(PROFILE_HEAD + "# padding\n" * 27_000)  # 270 KB
    result = runner.invoke(app, ["scan", "--profile", str(p), "--out", str(tmp_path / "out"), "--no-history"])
    assert result.exit_code == 2 and "me.toml" in result.output and "larger than 256 KB" in result.output


def test_ordinary_dotted_keys_still_load(tmp_path: Path) -> None:
    from exposure.errors import RuleError
    from exposure.tomlfile import MAX_KEY_PARTS, read_toml

    p = tmp_path / "ok.toml"
    p.write_text(".".join(["a"] * MAX_KEY_PARTS) + ' = 1\nurl = "https://www.a.b.c.example/x.y.z"\n')
    _, data = read_toml(p, RuleError)
    assert data["url"].endswith("x.y.z")
