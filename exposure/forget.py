"""`exposure forget`: delete everything this tool kept about the user, and say what went.

The history database is emptied with SQLite's `secure_delete` on (deleted content is overwritten with zeros
inside the file), then `VACUUM`ed and its write-ahead log truncated, before the files are removed, so the
data does not linger in free pages of a file that a backup might copy. Other files (profile, evidence,
reports, letters, zips) are unlinked: overwriting a file in place does not reliably erase it on journaling
file systems or SSDs, so we do not pretend to; full-disk encryption is what protects deleted data.

Only files this tool writes are touched: the profile, the history folder's database and evidence, the files
the history says it wrote, and `exposure-*` reports, evidence zips and `letter-*` files in the reports folder.
Folders are removed only when they are evidence folders we made and are empty.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .evidence import EVIDENCE_DIR
from .history import DB_NAME

_REPORT_GLOBS = (
    "exposure-*.html",
    "exposure-*.json",
    "exposure-*.md",
    "exposure-*.csv",
    "exposure-evidence-*.zip",
    "letter-*.txt",
)


def _recorded(history_dir: Path) -> list[Path]:
    db_path = history_dir / DB_NAME
    if not db_path.is_file():
        return []
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            return [Path(p) for (p,) in db.execute("SELECT path FROM outputs")]
        finally:
            db.close()
    except sqlite3.Error:
        return []


def plan(profile: Path, history_dir: Path, out_dir: Path) -> list[Path]:
    """Every file `forget` would remove, in the order it removes them."""
    found: dict[Path, None] = {}

    def add(p: Path) -> None:
        if p.is_file() and not p.is_symlink():
            found.setdefault(p, None)

    add(profile)
    for p in _recorded(history_dir):
        add(p)
    if out_dir.is_dir():
        for pattern in _REPORT_GLOBS:
            for p in sorted(out_dir.glob(pattern)):
                add(p)
    evidence = history_dir / EVIDENCE_DIR
    if evidence.is_dir():
        for p in sorted(evidence.rglob("*")):
            add(p)
    for p in sorted(history_dir.glob("scan-*.json")) if history_dir.is_dir() else []:
        add(p)
    for suffix in ("", "-wal", "-shm"):
        add(history_dir / f"{DB_NAME}{suffix}")
    return list(found)


def _wipe_database(path: Path) -> None:
    try:
        db = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error:
        return
    try:
        db.execute("PRAGMA secure_delete=ON")
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        db.execute("BEGIN")
        for t in tables:
            db.execute(f'DELETE FROM "{t}"')
        db.execute("COMMIT")
        db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error:
        pass  # a damaged database is removed all the same
    finally:
        db.close()


def forget(profile: Path, history_dir: Path, out_dir: Path) -> list[Path]:
    """Remove every file `plan` lists; return those removed."""
    targets = plan(profile, history_dir, out_dir)
    db_path = history_dir / DB_NAME
    if db_path in targets:
        _wipe_database(db_path)
    removed = []
    for p in targets:
        try:
            p.unlink()
            removed.append(p)
        except FileNotFoundError:
            if p.name.startswith(DB_NAME):
                removed.append(p)  # the -wal and -shm files go when SQLite closes the database
        except OSError:
            continue
    evidence = history_dir / EVIDENCE_DIR
    if evidence.is_dir():
        for d in sorted((d for d in evidence.rglob("*") if d.is_dir()), key=lambda d: len(d.parts), reverse=True):
            try:
                d.rmdir()
            except OSError:
                pass
        try:
            evidence.rmdir()
        except OSError:
            pass
    return removed
