"""Writing reports to disk: named by scan time, 0600 files in a folder made 0700 (they hold the user's data).

When the reports cannot be written where the user asked (a full disk, a folder that went away, a size
limit), the scan's JSON goes to a fallback folder of ours first, so finished work is never lost.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

import platformdirs

from ..files import write_private
from ..models import ScanResult
from .interface import Format, Reporter


def reporter_for(fmt: Format) -> Reporter:
    from . import reporter  # the registry in report/__init__.py

    return reporter(fmt)


def report_path(scan: ScanResult, fmt: Format, out_dir: Path) -> Path:
    return out_dir / f"exposure-{scan.id}{reporter_for(fmt).suffix}"


def write_reports(scan: ScanResult, formats: Iterable[Format], out_dir: Path) -> list[Path]:
    """Render and write each format; returns the paths written, in the order asked.

    Raises OSError naming the report that could not be written (the ones before it are written).
    """
    paths = []
    for fmt in formats:
        path = report_path(scan, fmt, out_dir)
        try:
            write_private(path, reporter_for(fmt).render(scan))
        except OSError as exc:
            raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
        paths.append(path)
    return paths


def fallback_dirs() -> list[Path]:
    """Where the scan's JSON goes when the reports cannot be written: the user's data folder, then a
    0700 folder of ours in the system's temporary folder (a second disk, often)."""
    return [
        Path(platformdirs.user_data_dir("exposure")) / "unsaved-reports",
        Path(tempfile.gettempdir()) / f"exposure-{os.getuid()}",
    ]


def _ours(folder: Path) -> bool:
    """A folder in a shared place is used only if it is ours and private: anyone can make one there first."""
    try:
        info = folder.lstat()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def write_fallback(scan: ScanResult, avoid: Path | None = None) -> Path:
    """Write the scan's JSON report to the first fallback folder that takes it; return its path.

    Raises the last OSError when none does.
    """
    last: OSError = OSError("no fallback folder")
    for folder in fallback_dirs():
        if avoid is not None and folder.absolute() == avoid.absolute():
            continue
        if folder.is_relative_to(tempfile.gettempdir()) and not _ours(folder):
            continue
        try:
            return write_reports(scan, [Format.JSON], folder)[0]
        except OSError as exc:
            last = exc
    raise last
