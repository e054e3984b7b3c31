"""What people read never names an exception class: the CLI table, the HTML and the Markdown say what
happened in plain words, and the technical cause stays in the JSON's raw_detail."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import FIXTURES
from servers import Canned, LocalServer
from test_pipeline import CARDS_RULE, NO_RESULTS, page
from typer.testing import CliRunner

import exposure.analyze
import exposure.pipeline
from exposure.cli import app

CLASS_NAME = re.compile(r"\b[A-Z][A-Za-z]*(?:Error|Exception)\b|\bClientConnector|\bgaierror\b")


def test_failures_inside_a_site_and_on_the_network_read_as_plain_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_queries = exposure.pipeline.build_queries
    real_results = exposure.analyze.Analyzer.results

    def queries(profile: object, rule: object) -> object:
        if getattr(rule, "id", "") == "bug-in-queries":
            raise ZeroDivisionError("division by zero")
        return real_queries(profile, rule)  # type: ignore[arg-type]

    def results(self: object, page_: object, rule_id: str, found_by: str) -> object:
        if rule_id == "bug-in-reading":
            raise KeyError("no such field")
        return real_results(self, page_, rule_id, found_by)  # type: ignore[arg-type]

    monkeypatch.setattr(exposure.pipeline, "build_queries", queries)
    monkeypatch.setattr(exposure.analyze.Analyzer, "results", results)
    rules = tmp_path / "rules"
    rules.mkdir()
    with LocalServer(fallback=Canned(page(NO_RESULTS))) as server:
        host = server.base.removeprefix("http://")
        for rule_id, base in (
            ("bug-in-queries", server.base),
            ("bug-in-reading", server.base),
            ("refused", "http://127.0.0.1:9"),  # nothing listens on the discard port
        ):
            text = CARDS_RULE.format(id=rule_id, host=base.removeprefix("http://") if rule_id == "refused" else host,
                                     base=base)  # fmt: skip
            (rules / f"{rule_id}.toml").write_text(text)
        out = tmp_path / "out"
        result = CliRunner().invoke(
            app,
            ["scan", "--profile", str(FIXTURES / "profiles" / "default.toml"), "--rules", str(rules), "--out",
             str(out), "--format", "html", "--format", "markdown", "--format", "json", "--no-history"],
        )  # fmt: skip
    assert result.exit_code == 3, result.output
    reports = [p.read_text() for p in out.glob("*") if p.suffix in (".html", ".md")]
    assert len(reports) == 2
    for text in (result.output, *reports):
        assert not CLASS_NAME.search(text), CLASS_NAME.search(text)
    assert "failed on this site (a bug in exposure or in the rule" in result.output
    assert "the connection was refused" in result.output
    (report,) = out.glob("*.json")
    sites = {s["id"]: s for s in json.loads(report.read_text())["sites"]}
    assert sites["bug-in-queries"]["raw_detail"].startswith("ZeroDivisionError")
    assert any(q["raw_detail"].startswith("KeyError") for q in sites["bug-in-reading"]["queries"])
    assert all(q["raw_detail"] for q in sites["refused"]["queries"])
