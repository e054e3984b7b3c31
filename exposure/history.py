"""Scans kept on disk in one SQLite database, so the next scan can say what is new, what is gone, whether an
opt-out worked, and so an interrupted scan can be finished.

Why SQLite, and why this way:
- One transaction per finished site (`Recording.site_finished`), in WAL mode with `synchronous=FULL`: a scan
  killed at any instant (SIGKILL, power cut) leaves a database that passes `PRAGMA integrity_check` and keeps
  every site that finished before it, which `exposure scan --resume` then builds on.
- The file holds the user's data (each site's result with the listings' values, the evidence log, opt-out
  requests): it is created empty by `write_private` (0600 in a 0700 folder) before SQLite opens it, and SQLite
  gives its `-wal` and `-shm` files the database file's own mode.
- The JSON files of earlier versions (`scan-*.json` in the same folder) are read into the database once, on
  first open, and removed once they are in it; a damaged one is left alone and never fatal.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import TypeAdapter, ValidationError

from .errors import HistoryError
from .files import write_private
from .findings import current_findings, diff, finding_id
from .models import ByHand, Remembered, ScanDiff, ScanResult, SiteResult, Status
from .removal import Observation, Request

DB_NAME = "exposure.sqlite3"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scans(
    id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,                        -- NULL while running, and for ever if the scan was killed
    state TEXT NOT NULL,                     -- running | interrupted | finished
    kind TEXT NOT NULL,                      -- scan | recheck | migrated
    based_on TEXT,                           -- recheck: the scan whose unchecked sites were run again
    planned TEXT NOT NULL DEFAULT '[]',      -- ids of the sites this scan set out to check, in order
    profile_sha256 TEXT NOT NULL DEFAULT '', -- so --resume never mixes two profiles in one scan
    profile_label TEXT NOT NULL DEFAULT '',
    tool_version TEXT NOT NULL DEFAULT '',
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS sites(
    scan_id TEXT NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    site_id TEXT NOT NULL,
    site_name TEXT NOT NULL,
    status TEXT NOT NULL,
    checked_at TEXT NOT NULL,
    result TEXT,                             -- the SiteResult as JSON; NULL for scans migrated from JSON files
    PRIMARY KEY(scan_id, site_id)
);
CREATE TABLE IF NOT EXISTS listings(
    scan_id TEXT NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    finding_id TEXT NOT NULL,
    site_id TEXT NOT NULL,
    site_name TEXT NOT NULL,
    url TEXT NOT NULL,
    found_by TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY(scan_id, finding_id)
);
CREATE TABLE IF NOT EXISTS captures(
    id INTEGER PRIMARY KEY,
    scan_id TEXT NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    site_id TEXT NOT NULL,
    url TEXT NOT NULL,
    final_url TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    http_status INTEGER,
    content_type TEXT NOT NULL,
    headers TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    file TEXT NOT NULL,                      -- relative to the evidence folder
    tool_version TEXT NOT NULL,
    shot_file TEXT,
    shot_sha256 TEXT,
    shot_at TEXT,
    shot_note TEXT NOT NULL DEFAULT ''       -- why there is no screenshot, when there is none
);
CREATE TABLE IF NOT EXISTS optouts(
    id INTEGER PRIMARY KEY,
    site_id TEXT NOT NULL,
    site_name TEXT NOT NULL,
    asked_on TEXT NOT NULL,                  -- the day the user asked (YYYY-MM-DD)
    recorded_at TEXT NOT NULL,
    method TEXT NOT NULL,
    law TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT '',
    tracked TEXT NOT NULL DEFAULT '[]',      -- the site and its sister sites the same request covers
    days INTEGER                             -- days after which a listing still there is overdue
);
CREATE TABLE IF NOT EXISTS outputs(path TEXT PRIMARY KEY, kind TEXT NOT NULL, written_at TEXT NOT NULL);
"""


def default_history_dir() -> Path:
    """The folder of the history database and the evidence (~/.local/share/exposure/history on Linux)."""
    return Path(platformdirs.user_data_dir("exposure")) / "history"


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")  # two events in one second keep their order


@cache
def _site_adapter() -> TypeAdapter[SiteResult]:
    return TypeAdapter(SiteResult)


def encode_site(site: SiteResult) -> str:
    return _site_adapter().dump_json(site).decode("utf-8")


def decode_site(text: str) -> SiteResult | None:
    """A stored site result, or None when it cannot be read back (written by a later version, damaged)."""
    try:
        return _site_adapter().validate_json(text)
    except ValidationError:
        return None


@dataclass(frozen=True)
class ScanRow:
    """One remembered scan, as `exposure history` lists it."""

    id: str
    started_at: str
    finished_at: str | None
    state: str
    kind: str
    based_on: str | None
    planned: tuple[str, ...]
    done: int  # sites finished
    found: int  # sites that list the user
    could_not_check: int
    listings: int
    profile_sha256: str
    profile_label: str

    @property
    def complete(self) -> bool:
        return self.state == "finished"


class History:
    """The history database in `folder`. Open with `History.open(folder)`; close when done."""

    def __init__(self, folder: Path, db: sqlite3.Connection) -> None:
        self.folder = folder
        self.path = folder / DB_NAME
        self.db = db

    @classmethod
    def open(cls, folder: Path) -> History:
        path = folder / DB_NAME
        if not path.exists():
            write_private(path, b"")  # 0600 before SQLite sees it: its -wal and -shm files take this mode
        try:
            db = sqlite3.connect(path, isolation_level=None, timeout=10)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            db.executescript(_SCHEMA)
            version = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise HistoryError(path, f"not a history database this version can read ({exc})") from exc
        if version is None:
            db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(version[0]) > SCHEMA_VERSION:
            db.close()
            raise HistoryError(path, f"written by a later version of exposure (schema {version[0]}): upgrade")
        history = cls(folder, db)
        history._migrate_json()
        return history

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic change: everything in it is on disk after it, or nothing is."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- recording a scan -------------------------------------------------------------------------------------

    def start(
        self,
        scan_id: str,
        started_at: str,
        planned: Sequence[str],
        *,
        kind: str = "scan",
        based_on: str | None = None,
        profile_sha256: str = "",
        profile_label: str = "",
        tool_version: str = "",
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO scans(id, started_at, state, kind, based_on, planned, profile_sha256, profile_label,"
                " tool_version) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                (
                    scan_id,
                    started_at,
                    kind,
                    based_on,
                    json.dumps(list(planned)),
                    profile_sha256,
                    profile_label,
                    tool_version,
                ),
            )

    def site_finished(self, scan_id: str, site: SiteResult, captures: Sequence[Mapping[str, Any]] = ()) -> None:
        """Record one finished site, its listings of the user and its evidence log in one transaction."""
        with self.transaction() as db:
            self._write_site(db, scan_id, site)
            for c in captures:
                db.execute(
                    "INSERT INTO captures(scan_id, site_id, url, final_url, fetched_at, http_status, content_type,"
                    " headers, sha256, file, tool_version) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        scan_id,
                        site.site.id,
                        c["url"],
                        c["final_url"],
                        c["fetched_at"],
                        c["http_status"],
                        c["content_type"],
                        json.dumps(c["headers"]),
                        c["sha256"],
                        c["file"],
                        c["tool_version"],
                    ),
                )

    @staticmethod
    def _write_site(db: sqlite3.Connection, scan_id: str, site: SiteResult) -> None:
        db.execute("DELETE FROM sites WHERE scan_id=? AND site_id=?", (scan_id, site.site.id))
        db.execute("DELETE FROM listings WHERE scan_id=? AND site_id=?", (scan_id, site.site.id))
        db.execute(
            "INSERT INTO sites VALUES (?, ?, ?, ?, ?, ?)",
            (scan_id, site.site.id, site.site.name, site.status.value, now_utc(), encode_site(site)),
        )
        for v in site.user_listings:
            db.execute(
                "INSERT OR REPLACE INTO listings VALUES (?, ?, ?, ?, ?, ?)",
                (
                    scan_id,
                    finding_id(site.site.id, v),
                    site.site.id,
                    site.site.name,
                    v.listing.url,
                    json.dumps(list(v.listing.found_by)),
                ),
            )

    def finish(self, scan: ScanResult) -> None:
        """Close a scan: `finished`, or `interrupted` (resumable) when the user stopped it."""
        with self.transaction() as db:
            db.execute(
                "UPDATE scans SET finished_at=?, state=?, extra=? WHERE id=?",
                (
                    scan.finished_at,
                    "interrupted" if scan.interrupted else "finished",
                    json.dumps(dict(scan.extra)),
                    scan.id,
                ),
            )

    def record_output(self, path: Path, kind: str) -> None:
        """Remember a file written for the user (report, letter, evidence zip), so `forget` can find it."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO outputs VALUES (?, ?, ?)", (str(path.resolve()), kind, now_utc()))

    def outputs(self) -> list[tuple[Path, str]]:
        return [(Path(p), k) for p, k in self.db.execute("SELECT path, kind FROM outputs ORDER BY path")]

    # -- reading ----------------------------------------------------------------------------------------------

    def scans(self) -> list[ScanRow]:
        """Every scan, oldest first."""
        rows = self.db.execute(
            "SELECT s.id, s.started_at, s.finished_at, s.state, s.kind, s.based_on, s.planned, s.profile_sha256,"
            " s.profile_label,"
            " (SELECT count(*) FROM sites t WHERE t.scan_id=s.id),"
            " (SELECT count(*) FROM sites t WHERE t.scan_id=s.id AND t.status='found'),"
            " (SELECT count(*) FROM sites t WHERE t.scan_id=s.id AND t.status='could_not_check'),"
            " (SELECT count(*) FROM listings l WHERE l.scan_id=s.id)"
            " FROM scans s ORDER BY s.started_at, s.id"
        ).fetchall()
        return [
            ScanRow(r[0], r[1], r[2], r[3], r[4], r[5], tuple(json.loads(r[6])), r[9], r[10], r[11], r[12], r[7], r[8])
            for r in rows
        ]

    def find(self, ref: str) -> ScanRow:
        """A scan by its number in `exposure history` (1 is the oldest, -1 the newest) or by (a prefix of) its id."""
        rows = self.scans()
        if ref.lstrip("-").isdigit() and len(ref) < 6:
            n = int(ref)
            if 1 <= n <= len(rows):
                return rows[n - 1]
            if -len(rows) <= n <= -1:
                return rows[n]
            raise HistoryError(self.path, f"no scan number {ref} (there are {len(rows)}; see `exposure history`)")
        matches = [r for r in rows if r.id.startswith(ref)]
        if len(matches) != 1:
            what = "no scan" if not matches else f"{len(matches)} scans"
            raise HistoryError(self.path, f"{what} with an id starting {ref!r} (see `exposure history`)")
        return matches[0]

    def finished_sites(self, scan_id: str) -> dict[str, SiteResult]:
        """The sites a scan finished, read back; a site that cannot be read back is left out (rechecked)."""
        out = {}
        for site_id, text in self.db.execute("SELECT site_id, result FROM sites WHERE scan_id=?", (scan_id,)):
            site = decode_site(text) if text else None
            if site is not None:
                out[site_id] = site
        return out

    def load(self, row: ScanRow, by_hand: Sequence[ByHand] = ()) -> ScanResult:
        """A remembered scan as a ScanResult again (for `diff`, `letter`, a resumed scan's report)."""
        if row.kind == "migrated":
            raise HistoryError(
                self.path,
                f"scan {row.id} came from an older version's history, which kept only listing addresses: "
                "it can be compared as the older scan only",
            )
        sites = self.finished_sites(row.id)
        order = {s: i for i, s in enumerate(row.planned)}
        extra = json.loads(self.db.execute("SELECT extra FROM scans WHERE id=?", (row.id,)).fetchone()[0])
        return ScanResult(
            id=row.id,
            started_at=row.started_at,
            finished_at=row.finished_at or "",
            sites=tuple(sorted(sites.values(), key=lambda s: order.get(s.site.id, len(order)))),
            interrupted=not row.complete,
            profile_label=row.profile_label,
            tool_version=self.db.execute("SELECT tool_version FROM scans WHERE id=?", (row.id,)).fetchone()[0],
            extra=extra,
            by_hand=tuple(by_hand),
        )

    def remembered(self, scan_id: str, site_ids: Sequence[str] | None = None) -> dict[str, Remembered]:
        """The user's listings a scan found, by finding id (optionally only on some sites)."""
        rows = self.db.execute(
            "SELECT finding_id, site_id, site_name, url, found_by FROM listings WHERE scan_id=?", (scan_id,)
        )
        return {
            fid: Remembered(site_id, name, url, tuple(json.loads(found_by)))
            for fid, site_id, name, url, found_by in rows
            if site_ids is None or site_id in site_ids
        }

    def unfinished(self) -> ScanRow | None:
        """The newest scan that was stopped or killed before it finished, if it is the newest scan."""
        rows = [r for r in self.scans() if r.kind != "migrated"]
        if rows and not rows[-1].complete:
            return rows[-1]
        return None

    def last_complete(self, before: str | None = None, full_only: bool = True) -> ScanRow | None:
        """The newest finished scan (other than `before`); rechecks of a few sites are left out unless asked."""
        rows = [
            r
            for r in self.scans()
            if r.complete and r.id != before and (not full_only or r.kind in ("scan", "migrated"))
        ]
        return rows[-1] if rows else None

    def compare(self, scan: ScanResult, previous: ScanRow, site_ids: Sequence[str] | None = None) -> ScanDiff:
        """What changed between an earlier scan and this one. With `site_ids` (a recheck of a few sites), each
        site is compared with the last scan that told something about it: one that answered, or found the user
        there; a scan that could not check it knows nothing of its listings."""
        if site_ids is None:
            remembered = self.remembered(previous.id)
        else:
            remembered = {}
            for site_id in site_ids:
                rows = self.db.execute(
                    "SELECT t.scan_id FROM sites t WHERE t.site_id=? AND t.scan_id<>? AND (t.status<>'could_not_check'"
                    " OR EXISTS (SELECT 1 FROM listings l WHERE l.scan_id=t.scan_id AND l.site_id=t.site_id))"
                    " ORDER BY t.checked_at DESC LIMIT 1",
                    (site_id, scan.id),
                ).fetchall()
                if rows:
                    remembered.update(self.remembered(rows[0][0], [site_id]))
        return diff(previous.id, previous.finished_at or previous.started_at, remembered, scan)

    def compare_with_last(self, scan: ScanResult) -> ScanDiff | None:
        """The diff against the newest earlier complete full scan, if there is one."""
        previous = self.last_complete(before=scan.id)
        return None if previous is None else self.compare(scan, previous)

    def observations(self, site_ids: Sequence[str]) -> dict[str, list[Observation]]:
        """Every finished scan's view of these sites, oldest first (interrupted scans count for the sites they
        finished: each of those was answered in full)."""
        out: dict[str, list[Observation]] = {s: [] for s in site_ids}
        if not site_ids:
            return out
        marks = ",".join("?" * len(site_ids))
        rows = self.db.execute(
            f"SELECT t.scan_id, t.site_id, t.checked_at, t.status, t.result, s.kind, s.started_at FROM sites t "
            f"JOIN scans s ON s.id = t.scan_id WHERE t.site_id IN ({marks}) ORDER BY t.checked_at, t.scan_id",
            tuple(site_ids),
        ).fetchall()
        for scan_id, site_id, checked_at, status, result, kind, started_at in rows:
            listed = {f: r for f, r in self.remembered(scan_id, [site_id]).items()}
            site = decode_site(result) if result else None
            when = started_at if kind == "migrated" else checked_at
            out[site_id].append(Observation(scan_id, site_id, when, Status(status), listed, site))
        return out

    # -- removal requests -------------------------------------------------------------------------------------

    def add_request(
        self,
        site_id: str,
        site_name: str,
        asked_on: date,
        method: str,
        *,
        law: str = "",
        request_id: str = "",
        tracked: Sequence[str] = (),
        days: int | None = None,
    ) -> Request:
        """Record that the user asked a site (and the sister sites it covers) to remove them."""
        recorded = now_utc()
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO optouts(site_id, site_name, asked_on, recorded_at, method, law, request_id, tracked, days)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    site_id,
                    site_name,
                    asked_on.isoformat(),
                    recorded,
                    method,
                    law,
                    request_id,
                    json.dumps(list(tracked or (site_id,))),
                    days,
                ),
            )
        return Request(
            cur.lastrowid or 0,
            site_id,
            site_name,
            asked_on,
            recorded,
            method,
            law,
            request_id,
            tuple(tracked or (site_id,)),
            days,
        )

    def requests(self) -> list[Request]:
        rows = self.db.execute(
            "SELECT id, site_id, site_name, asked_on, recorded_at, method, law, request_id, tracked, days FROM optouts"
            " ORDER BY asked_on, id"
        )
        return [
            Request(i, s, n, date.fromisoformat(a), rec, m, law, rid, tuple(json.loads(t)), d)
            for i, s, n, a, rec, m, law, rid, t, d in rows
        ]

    def site_names(self) -> dict[str, str]:
        """The name of every site the history has seen, by id."""
        return dict(self.db.execute("SELECT site_id, site_name FROM sites"))

    # -- migration from the JSON files of earlier versions ----------------------------------------------------

    def _migrate_json(self) -> None:
        for path in sorted(self.folder.glob("scan-*.json")):
            data = _load_json(path)
            if data is None:
                continue  # damaged: left as it is
            scan_id = str(data.get("scan_id") or path.stem.removeprefix("scan-"))
            finished = str(data.get("finished_at", ""))
            raw_sites = data.get("sites")
            sites: dict[str, Any] = raw_sites if isinstance(raw_sites, dict) else {}
            findings = {k: v for k, v in data["findings"].items() if isinstance(v, dict)}
            names = {str(f.get("site_id", "")): str(f.get("site_name", "")) for f in findings.values()}
            with self.transaction() as db:
                if db.execute("SELECT 1 FROM scans WHERE id=?", (scan_id,)).fetchone() is None:
                    db.execute(
                        "INSERT INTO scans(id, started_at, finished_at, state, kind, planned) "
                        "VALUES (?, ?, ?, ?, 'migrated', ?)",
                        (
                            scan_id,
                            finished,
                            finished,
                            "interrupted" if data.get("interrupted") else "finished",
                            json.dumps(list(sites)),
                        ),
                    )
                    for site_id, status in sites.items():
                        if status in {s.value for s in Status}:
                            db.execute(
                                "INSERT INTO sites VALUES (?, ?, ?, ?, ?, NULL)",
                                (scan_id, site_id, names.get(site_id) or site_id, status, finished),
                            )
                    for fid, f in findings.items():
                        found_by = [q for q in f.get("found_by", []) if isinstance(q, str)]
                        db.execute(
                            "INSERT OR REPLACE INTO listings VALUES (?, ?, ?, ?, ?, ?)",
                            (
                                scan_id,
                                fid,
                                str(f.get("site_id", "")),
                                str(f.get("site_name", "")),
                                str(f.get("url", "")),
                                json.dumps(found_by),
                            ),
                        )
            path.unlink()  # it is in the database now: one copy of the user's data, not two


def _load_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a damaged history file is skipped, never fatal
    return data if isinstance(data, dict) and isinstance(data.get("findings"), dict) else None


def merge(previous: Mapping[str, SiteResult], scan: ScanResult, planned: Sequence[str], started_at: str) -> ScanResult:
    """A resumed scan: the sites finished before the interruption and those finished now, in the planned order."""
    sites = {**previous, **{s.site.id: s for s in scan.sites}}
    order = {s: i for i, s in enumerate(planned)}
    return replace(
        scan,
        started_at=started_at,
        sites=tuple(sorted(sites.values(), key=lambda s: order.get(s.site.id, len(order)))),
    )


def unchecked_sites(scan: ScanResult) -> list[str]:
    """The sites `--recheck` runs again: those that could not be checked."""
    return [s.site.id for s in scan.sites if s.status is Status.COULD_NOT_CHECK]


__all__ = ["History", "HistoryError", "ScanRow", "current_findings", "default_history_dir", "merge"]
