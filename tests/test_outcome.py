"""What a whole scan comes to: the headline never claims more than the scan established, and the exit code
says the same (0 every site answered and none lists the user, 1 listed, 3 not found where checked but some
sites could not be checked, or none could)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from conftest import FIXTURES
from servers import Canned, LocalServer
from test_pipeline import DETAIL_1, JANE_CARD, NO_RESULTS, page
from typer.testing import CliRunner

from exposure.cli import app
from exposure.models import Outcome, ScanResult, SiteInfo, SiteResult, Status
from exposure.pipeline import NO_NETWORK
from exposure.report.html import HtmlReporter
from exposure.report.view import build
from exposure.summary import EXIT_CLEAN, EXIT_LISTED, EXIT_UNCHECKED, ScanOutcome, exit_code, headline, outcome

runner = CliRunner()
PROFILE = FIXTURES / "profiles" / "default.toml"

RULE = """
id = "{id}"
name = "Site {id}"
domain = "{host}"
delay = 0.0
[[searches]]
kind = "name"
url = "{base}/name/{{full|slug:_}}"
[[pages.no_results]]
selector = "#nothing"
[extract]
listing = ".card"
expect = ["age"]
[extract.fields]
name = ".name"
age = ".age"
[extract.detail]
link = "a.more@href"
[extract.detail.fields]
phones = ".phones li"
"""


def write_rules(tmp: Path, sites: dict[str, str]) -> Path:
    d = tmp / "rules"
    d.mkdir(exist_ok=True)
    for site_id, base in sites.items():
        host = base.split("://", 1)[1]
        (d / f"{site_id}.toml").write_text(textwrap.dedent(RULE.format(id=site_id, host=host, base=base)))
    return d


def run(tmp: Path, rules: Path, *extra: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    out = tmp / "out"
    args = ["scan", "--profile", str(PROFILE), "--rules", str(rules), "--out", str(out), *extra]
    args += ["--format", "json", "--format", "html", "--timeout", "3", "--no-history", "--no-progress"]
    result = runner.invoke(app, args)
    reports = sorted(out.glob("*.json"))
    data = json.loads(reports[-1].read_text()) if reports else {}
    return result.exit_code, data, result.output


def result_of(*statuses: Status) -> ScanResult:
    sites = tuple(
        SiteResult(SiteInfo(f"s{i}", f"S{i}", f"s{i}.example"), st, None, "", (), (), None)
        for i, st in enumerate(statuses)
    )
    return ScanResult("id", "2026-11-21T10:00:00+00:00", "2026-11-21T10:01:00+00:00", sites)


def test_exit_codes_follow_what_was_established() -> None:
    f, n, c = Status.FOUND, Status.NOT_FOUND, Status.COULD_NOT_CHECK
    assert exit_code(result_of(n, n)) == EXIT_CLEAN and outcome(result_of(n, n)) is ScanOutcome.NOT_LISTED
    assert exit_code(result_of(f, c)) == EXIT_LISTED
    assert exit_code(result_of(n, c, c)) == EXIT_UNCHECKED
    assert outcome(result_of(n, c, c)) is ScanOutcome.NOT_LISTED_WHERE_CHECKED
    assert headline(result_of(n, c, c)).startswith("Checked 1 of 3 sites: not listed on that one. 2 could not")
    assert exit_code(result_of(c, c)) == EXIT_UNCHECKED and outcome(result_of(c, c)) is ScanOutcome.NOTHING_CHECKED


def test_kinds_get_no_tick_unless_every_site_was_checked() -> None:
    some = build(result_of(Status.NOT_FOUND, Status.COULD_NOT_CHECK))
    assert all(not k.clear for k in some.kinds)
    html = HtmlReporter().render(result_of(Status.NOT_FOUND, Status.COULD_NOT_CHECK)).decode()
    assert "kind kind-clear" not in html and "We did not find you" not in html
    assert "Checked 1 of 2 sites" in html and "headline-neutral" in html
    everything = build(result_of(Status.NOT_FOUND, Status.NOT_FOUND))
    assert all(k.clear for k in everything.kinds)
    assert "headline-ok" in HtmlReporter().render(result_of(Status.NOT_FOUND, Status.NOT_FOUND)).decode()


def test_scan_exits_3_when_a_site_could_not_be_checked(tmp_path: Path) -> None:
    with (
        LocalServer(fallback=Canned(page(NO_RESULTS))) as answers,
        LocalServer(fallback=Canned("<title>Just a moment...</title>", 403, {"cf-mitigated": "challenge"})) as wall,
    ):
        code, data, output = run(tmp_path, write_rules(tmp_path, {"a": answers.base, "b": wall.base}))
    assert code == EXIT_UNCHECKED, output
    assert data["summary"]["outcome"] == "not_listed_where_checked"
    assert data["summary"]["headline"].startswith("Checked 1 of 2 sites: not listed on that one.")
    assert "Checked 1 of 2 sites" in output


def test_scan_exits_0_only_when_every_site_answered(tmp_path: Path) -> None:
    with LocalServer(fallback=Canned(page(NO_RESULTS))) as a, LocalServer(fallback=Canned(page(NO_RESULTS))) as b:
        code, data, _ = run(tmp_path, write_rules(tmp_path, {"a": a.base, "b": b.base}))
    assert code == EXIT_CLEAN and data["summary"]["outcome"] == "not_listed"


def test_listed_exits_1(tmp_path: Path) -> None:
    routes = {"/name/Jane_Testwood": Canned(page(JANE_CARD)), "/person/jane-1": Canned(DETAIL_1)}
    with LocalServer(routes, fallback=Canned(page(NO_RESULTS))) as server:
        code, data, _ = run(tmp_path, write_rules(tmp_path, {"a": server.base}))
    assert code == EXIT_LISTED and data["summary"]["outcome"] == "listed"


def test_a_scan_without_network_says_so_first_stops_early_and_exits_3(tmp_path: Path) -> None:
    # names in the reserved .invalid domain never resolve: every site fails the way it does offline
    sites = {f"s{i}": f"http://site-{i}.invalid" for i in range(12)}
    code, data, output = run(tmp_path, write_rules(tmp_path, sites), "--concurrency", "2")
    assert code == EXIT_UNCHECKED, output
    s = data["summary"]
    assert s["outcome"] == "nothing_checked" and s["likely_cause"] == "offline"
    assert s["headline"].startswith("None of the 12 sites could be checked")
    assert "offline" in s["headline"]
    assert "no network: nothing can be checked" in output
    # it stopped early: once a few names did not resolve (two at a time here), nothing more was looked up,
    # and a name that does not resolve is not asked again
    queries = [q for site in data["sites"] for q in site["queries"]]
    looked_up = [q for q in queries if q["detail"] == "the site's address could not be found (DNS)"]
    assert 3 <= len(looked_up) <= 4, [q["detail"] for q in queries]
    assert all(q in looked_up or q["detail"].startswith(NO_NETWORK) for q in queries)
    assert all("ClientConnector" in q["raw_detail"] for q in looked_up)
    assert all(NO_NETWORK in site["detail"] or site["queries"] for site in data["sites"])
    for site in data["sites"]:
        assert site["status"] == "could_not_check" and site["reason"] == Outcome.ERROR.value
    html = next((tmp_path / "out").glob("*.html")).read_text()
    summary_start = html.index('id="summary"')
    assert html.index("None of the 12 sites could be checked", summary_start) < html.index("listing", summary_start)
