"""Writing reports to disk: named by scan time, 0600 files in a 0700 folder (they hold the user's data)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..files import write_private
from ..models import ScanResult
from .interface import Format, Reporter


def reporter_for(fmt: Format) -> Reporter:
    from . import reporter  # the registry in report/__init__.py

    return reporter(fmt)


def write_reports(scan: ScanResult, formats: Iterable[Format], out_dir: Path) -> list[Path]:
    """Render and write each format; returns the paths written, in the order asked."""
    paths = []
    for fmt in formats:
        r = reporter_for(fmt)
        path = out_dir / f"exposure-{scan.id}{r.suffix}"
        write_private(path, r.render(scan))
        paths.append(path)
    return paths
