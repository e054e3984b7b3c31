"""Recording a scan as it runs: which sites to scan (all, the rest of an interrupted scan, or only those that
could not be checked last time), each finished site and the pages behind its listings saved in one
transaction, and afterwards the comparison with the last scan, the screenshots and where each removal stands.

The CLI calls this around `pipeline.scan`; the pipeline itself knows nothing of the disk.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from . import __version__
from .errors import HistoryError
from .evidence import ShotSummary, keep_pages, take_screenshots
from .history import History, merge, now_utc, unchecked_sites
from .models import ScanDiff, ScanResult, SitePages, SiteResult
from .pipeline import new_scan_id
from .removal import Removal, follow_all
from .rules import Rule


class Mode(StrEnum):
    NEW = "scan"
    RESUME = "resume"
    RECHECK = "recheck"


@dataclass
class Plan:
    """What this run scans and under which scan id."""

    scan_id: str
    started_at: str
    rules: list[Rule]
    planned: list[str]  # every site of the scan, in order, including those finished before a resume
    previous: dict[str, SiteResult] = field(default_factory=dict)  # sites a resumed scan had finished
    kind: str = "scan"
    based_on: str | None = None  # the scan a recheck takes its unchecked sites from


def profile_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


class Recorder:
    """Keeps one scan in the history as it runs. A failure to write stops the recording with one warning and
    never the scan: the reports are still written."""

    def __init__(self, history: History, evidence: bool, warn: Callable[[str], None]) -> None:
        self.history = history
        self.evidence = evidence
        self.warn = warn
        self.plan: Plan | None = None
        self._pages: dict[str, list[dict[str, Any]]] = {}
        self._recorded: set[str] = set()
        self.broken = ""

    def make_plan(self, rules: Sequence[Rule], mode: Mode, profile_path: Path, profile_label: str) -> Plan:
        """Which sites to scan. Raises HistoryError when there is nothing to resume or the profile changed."""
        sha = profile_sha256(profile_path)
        by_id = {r.id: r for r in rules}
        if mode is Mode.RESUME:
            row = self.history.unfinished()
            if row is None:
                raise HistoryError(self.history.path, "nothing to resume: the last scan finished")
            if row.profile_sha256 and sha and row.profile_sha256 != sha:
                raise HistoryError(
                    profile_path, f"the profile changed since scan {row.id} began: start a new scan instead"
                )
            missing = [s for s in row.planned if s not in by_id]
            if missing:
                raise HistoryError(
                    self.history.path,
                    f"scan {row.id} also covered {', '.join(missing[:5])}, which the rules given now do not have: "
                    "resume it with the same --rules",
                )
            previous = self.history.finished_sites(row.id)
            todo = [by_id[s] for s in row.planned if s not in previous]
            plan = Plan(row.id, row.started_at, todo, list(row.planned), previous, row.kind, row.based_on)
            self.history.db.execute("UPDATE scans SET state='running' WHERE id=?", (row.id,))
        else:
            based_on = None
            todo = list(rules)
            if mode is Mode.RECHECK:
                last = self.history.last_complete(full_only=False)
                if last is None:
                    raise HistoryError(self.history.path, "no finished scan to recheck yet: run `exposure scan`")
                unchecked = set(unchecked_sites(self.history.load(last)))
                todo = [r for r in rules if r.id in unchecked]
                based_on = last.id
            scan_id = new_scan_id()
            plan = Plan(scan_id, now_utc(), todo, [r.id for r in todo], {}, mode.value, based_on)
            self.history.start(
                scan_id,
                plan.started_at,
                plan.planned,
                kind=plan.kind,
                based_on=based_on,
                profile_sha256=sha,
                profile_label=profile_label,
                tool_version=__version__,
            )
        self.plan = plan
        return plan

    def _guard(self, what: Callable[[], None]) -> None:
        if self.broken:
            return
        try:
            what()
        except (OSError, sqlite3.Error) as exc:
            self.broken = str(exc)
            self.warn(f"the history could not be written ({exc}): this scan's report is still written")

    def on_pages(self, pages: SitePages) -> None:
        """Save the pages behind a site's listings (files first; their log joins the site's transaction)."""
        if not self.evidence or self.plan is None:
            return
        plan = self.plan

        def keep() -> None:
            self._pages[pages.site_id] = keep_pages(self.history.folder, plan.scan_id, pages)

        self._guard(keep)

    def on_site(self, site: SiteResult) -> None:
        if self.plan is None:
            return
        plan = self.plan
        rows = self._pages.pop(site.site.id, [])
        self._guard(lambda: self.history.site_finished(plan.scan_id, site, rows))
        self._recorded.add(site.site.id)

    def complete(self, result: ScanResult) -> ScanResult:
        """The whole scan (a resumed one with the sites finished before), compared with the last one."""
        plan = self.plan
        assert plan is not None
        if plan.previous:
            result = merge(plan.previous, result, plan.planned, plan.started_at)
        changes: ScanDiff | None
        if plan.based_on is not None:
            previous = self.history.find(plan.based_on)
            changes = self.history.compare(result, previous, [s.site.id for s in result.sites])
        else:
            changes = self.history.compare_with_last(result)
        return replace(result, changes=changes)

    def finish(self, result: ScanResult, written: Sequence[Path]) -> None:
        def done() -> None:
            for site in result.sites:
                # sites settled without finishing (the scan stopped early with no network) are recorded as they
                # are; sites cut short by the user stay unfinished, for --resume
                if site.site.id not in self._recorded and not site.interrupted and self.plan is not None:
                    if site.site.id not in self.plan.previous:
                        self.history.site_finished(self.plan.scan_id, site)
            for path in written:
                self.history.record_output(path, "report")
            self.history.finish(result)

        self._guard(done)

    def screenshots(self) -> ShotSummary:
        if not self.evidence or self.plan is None or self.broken:
            return ShotSummary()
        return take_screenshots(self.history.folder, self.history.db, self.plan.scan_id)


def removals(history: History, exclude_scan: str | None = None) -> list[Removal]:
    """Where every recorded removal request stands (as it stood before `exclude_scan`, when given)."""
    requests = history.requests()
    sites = sorted({s for r in requests for s in (r.tracked or (r.site_id,))})
    observations = history.observations(sites)
    if exclude_scan:
        observations = {k: [o for o in v if o.scan_id != exclude_scan] for k, v in observations.items()}
    names = {**history.site_names(), **{r.site_id: r.site_name for r in requests}}
    return follow_all(requests, observations, names)


def changed_removals(history: History, scan_id: str) -> list[Removal]:
    """The removals whose state this scan changed: what `--quiet` prints."""
    before = {(r.request.id, r.site_id): r.state for r in removals(history, exclude_scan=scan_id)}
    return [r for r in removals(history) if before.get((r.request.id, r.site_id)) is not r.state]
