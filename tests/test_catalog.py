"""The catalog as a person browses it (`exposure sites`), picks from it (`scan --site/--exclude`), checks it
against a site (`rules probe`), and installs it (the wheel carries every rule)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import FIXTURES, fast_options
from servers import Canned, LocalServer
from typer.testing import CliRunner

from exposure.cli import app
from exposure.models import SiteInfo, Status
from exposure.rules import BUNDLED_RULES, load_catalog, load_rule
from exposure.summary import DROP_URL

runner = CliRunner()
CATALOG = load_catalog([BUNDLED_RULES])
ROOT = Path(__file__).resolve().parents[1]


def test_sites_list_shows_every_site_with_opt_out_facts() -> None:
    result = runner.invoke(app, ["sites", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == len(CATALOG) >= 50
    assert all(r["opt_out"] and r["opt_out"]["url"].startswith("http") for r in rows)
    assert {r["check"] for r in rows} == {"scan", "by hand"}
    assert all(r["california_registry"] in (True, False) for r in rows)


def test_sites_list_filters_by_family_and_tag() -> None:
    rows = json.loads(runner.invoke(app, ["sites", "list", "--json", "--family", "peoplefinders"]).output)
    assert rows and all(r["family"] == "peoplefinders" for r in rows)
    assert "truepeoplesearch" in {r["id"] for r in rows}
    free = json.loads(runner.invoke(app, ["sites", "list", "--json", "--tag", "free"]).output)
    assert free and all("free" in r["tags"] for r in free)
    text = runner.invoke(app, ["sites", "list"]).output
    assert "truepeoplesearch" in text and f"{len(CATALOG)} site(s)." in text


def test_sites_show_names_sources_and_opt_out() -> None:
    result = runner.invoke(app, ["sites", "show", "spokeo"])
    assert result.exit_code == 0
    assert "Opt-out: https://www.spokeo.com" in result.output and "sources:" in result.output
    assert runner.invoke(app, ["sites", "show", "no-such-site"]).exit_code == 2


RULE = """
id = "{id}"
name = "Site {id}"
domain = "{host}"
delay = 0.0
[[searches]]
kind = "name"
url = "{base}/name/{{first|lower}}-{{last|lower}}"
[[pages.no_results]]
selector = "#nothing"
[extract]
listing = ".card"
expect = ["age"]
[extract.fields]
name = ".name"
age = ".age"
[opt_out]
url = "{base}/optout"
"""


def rules_dir(tmp: Path, base: str, ids: list[str]) -> Path:
    d = tmp / "rules"
    d.mkdir(exist_ok=True)
    for i in ids:
        (d / f"{i}.toml").write_text(textwrap.dedent(RULE.format(id=i, host=base.removeprefix("http://"), base=base)))
    return d


def test_scan_picks_sites_with_site_and_exclude(tmp_path: Path) -> None:
    no = "<html><body><div id='nothing'>No records found.</div></body></html>"
    with LocalServer(fallback=Canned(no)) as server:
        d = rules_dir(tmp_path, server.base, ["a", "b", "c"])
        base = ["scan", "--profile", str(FIXTURES / "profiles" / "default.toml"), "--rules", str(d)]
        base += ["--format", "json", "--no-history", "--no-progress"]
        picked = runner.invoke(app, [*base, "--out", str(tmp_path / "o1"), "--site", "a", "--site", "c"])
        left = runner.invoke(app, [*base, "--out", str(tmp_path / "o2"), "--exclude", "b"])
        assert left.exit_code == 0, left.output
        bad = runner.invoke(app, [*base, "--out", str(tmp_path / "o3"), "--site", "zzz"])
    assert picked.exit_code == 0, picked.output
    ids = [s["id"] for s in json.loads(next((tmp_path / "o1").glob("*.json")).read_text())["sites"]]
    assert ids == ["a", "c"]
    assert [s["id"] for s in json.loads(next((tmp_path / "o2").glob("*.json")).read_text())["sites"]] == ["a", "c"]
    assert bad.exit_code == 2 and "zzz" in bad.output


def test_probe_says_whether_the_markers_hold(tmp_path: Path) -> None:
    # a loopback stand-in for a live site: no one is called Qwzyx, many are called James Smith
    import asyncio

    from exposure.probe import probe

    cards = "".join(
        f"<div class='card'><h2 class='name'>James Smith</h2><span class='age'>Age {a}</span></div>" for a in (30, 41)
    )
    routes = {"/name/james-smith": Canned(f"<html><body>{cards}</body></html>")}
    with LocalServer(
        routes, fallback=Canned("<html><body><div id='nothing'>No records found.</div></body></html>")
    ) as s:
        rule = load_rule(rules_dir(tmp_path, s.base, ["live"]) / "live.toml")
        ok = asyncio.run(probe(rule, fast_options()))
        s.routes["/name/james-smith"] = Canned("<html><body><article>James Smith, 30</article></body></html>")
        drifted = asyncio.run(probe(rule, fast_options()))
    assert ok.no_results_holds and ok.results_hold and ok.holds
    assert ok.no_results_holds and not drifted.results_hold


def test_a_california_address_gets_the_drop_note() -> None:
    from report.factory import demo_scan

    from exposure.report import Format, reporter

    scan = demo_scan()
    sites = tuple(
        s if i else type(s)(**{**s.__dict__, "site": SiteInfo(**{**s.site.__dict__, "california_registry": True})})
        for i, s in enumerate(scan.sites)
    )
    ca = type(scan)(**{**scan.__dict__, "sites": sites, "profile_states": ("CA",)})
    data = json.loads(reporter(Format.JSON).render(ca))
    drop = data["california_drop"]
    assert drop["url"] == DROP_URL and drop["registered_in_scan"] >= 1
    listed = [s["id"] for s in data["sites"] if s["status"] == Status.FOUND.value]
    assert set(drop["registered_listing_you"]) | set(drop["not_registered_listing_you"]) == set(listed)
    html = reporter(Format.HTML).render(ca).decode()
    assert 'id="california-drop"' in html and DROP_URL in html and "public records" in html
    assert "DROP" in reporter(Format.MARKDOWN).render(ca).decode()
    il = json.loads(reporter(Format.JSON).render(type(scan)(**{**scan.__dict__, "profile_states": ("IL",)})))
    assert il["california_drop"] is None


@pytest.mark.timeout(600)
def test_the_wheel_carries_the_whole_catalog(tmp_path: Path) -> None:
    """Build the wheel, install it alone into a fresh venv, and list the catalog from there."""
    py = sys.executable
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [py, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = wheels.glob("exposure-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([py, "-m", "venv", str(venv)], check=True, timeout=120)
    vpy = venv / "bin" / "python"
    install = subprocess.run(
        [str(vpy), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], capture_output=True, text=True
    )
    assert install.returncode == 0, install.stderr
    # the dependencies come from this test environment; exposure itself only from the fresh venv's wheel
    deps = [p for p in sys.path if p.endswith("site-packages")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(deps)}
    # run outside the checkout: `python -c` and `-m` put the working folder first on sys.path
    where = subprocess.run(
        [str(vpy), "-c", "import exposure, sys; print(exposure.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert str(venv) in where.stdout, where.stdout + where.stderr
    listed = subprocess.run(
        [str(vpy), "-m", "exposure.cli", "rules", "check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    for entry in (*CATALOG.rules, *CATALOG.manual):
        assert entry.id in listed.stdout
    assert f"{len(CATALOG.rules)} rule(s) valid, {len(CATALOG.manual)} site(s) to check by hand." in listed.stdout
