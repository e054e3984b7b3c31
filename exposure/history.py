"""Scans kept on disk, so the next scan can say what is new, what is gone, and whether an opt-out worked.

One small JSON file per scan in the user's data folder (0600 files in a 0700 folder): for each site its
status and the user's listings (finding id, URL). Nothing else of the profile or the pages is kept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import platformdirs

from .files import write_private
from .findings import current_findings, diff
from .models import Remembered, ScanDiff, ScanResult


def default_history_dir() -> Path:
    return Path(platformdirs.user_data_dir("exposure")) / "history"


def _record(scan: ScanResult) -> dict[str, Any]:
    return {
        "scan_id": scan.id,
        "finished_at": scan.finished_at,
        "interrupted": scan.interrupted,
        "sites": {s.site.id: s.status.value for s in scan.sites},
        "findings": {
            fid: {
                "site_id": s.site.id,
                "site_name": s.site.name,
                "url": v.listing.url,
                "found_by": list(v.listing.found_by),
            }
            for fid, (s, v) in current_findings(scan).items()
        },
    }


def save(scan: ScanResult, folder: Path) -> Path:
    path = folder / f"scan-{scan.id}.json"
    write_private(path, json.dumps(_record(scan), indent=1))
    return path


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a damaged history file is skipped, never fatal
    return data if isinstance(data, dict) and isinstance(data.get("findings"), dict) else None


def compare_with_last(scan: ScanResult, folder: Path) -> ScanDiff | None:
    """The diff against the newest earlier complete scan in the folder, if there is one."""
    if not folder.is_dir():
        return None
    for path in sorted(folder.glob("scan-*.json"), reverse=True):
        data = _load(path)
        if data is None or data.get("scan_id") == scan.id or data.get("interrupted"):
            continue
        remembered = {
            fid: Remembered(
                str(f.get("site_id", "")),
                str(f.get("site_name", "")),
                str(f.get("url", "")),
                tuple(str(q) for q in f.get("found_by", []) if isinstance(q, str)),
            )
            for fid, f in data["findings"].items()
            if isinstance(f, dict)
        }
        return diff(str(data.get("scan_id", "")), str(data.get("finished_at", "")), remembered, scan)
    return None
