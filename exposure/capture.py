"""A page kept as evidence: the bytes as read, with the URL, the UTC time and their SHA-256.

Victims' guides and evidence tools agree on what makes a saved page usable later: the full URL, when it was
captured (UTC), and a hash of exactly what was saved. `save_capture` writes the page (0600, in a 0700
folder) and beside it a small JSON record of those facts; `verify_capture` checks the page against its
record. This is deliberately small and typed (`Capture`): the evidence pack of issue 13 (manifest,
screenshots, export) is being built separately and can take these records as they are.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import platformdirs

from . import __version__
from .models import Page
from .profile import write_private


def default_capture_dir() -> Path:
    """Where `exposure check` keeps the pages it read (~/.local/share/exposure/checks on Linux)."""
    return Path(platformdirs.user_data_dir("exposure")) / "checks"


@dataclass(frozen=True)
class Capture:
    """One saved page and the facts that make it evidence."""

    url: str  # what was asked for
    final_url: str  # where the page was after redirects and scripts
    captured_at: str  # UTC, ISO 8601 ("2026-11-21T10:04:05Z")
    sha256: str  # of the saved file's bytes
    http_status: int | None
    engine: str  # "browser": the rendered document; "http": the body as sent
    tool_version: str
    file: str  # the page's file name, beside the record
    size: int

    def record(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True) + "\n"


def save_capture(page: Page, folder: Path, engine: str, now: datetime | None = None) -> tuple[Capture, Path, Path]:
    """Write the page and its record into `folder`; returns the capture, the page's path and the record's."""
    when = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    digest = hashlib.sha256(page.body).hexdigest()
    stem = f"{when.strftime('%Y%m%dT%H%M%SZ')}-{digest[:12]}"
    capture = Capture(
        url=page.url,
        final_url=page.final_url,
        captured_at=when.isoformat().replace("+00:00", "Z"),
        sha256=digest,
        http_status=page.status,
        engine=engine,
        tool_version=__version__,
        file=f"{stem}.html",
        size=len(page.body),
    )
    page_path, record_path = folder / capture.file, folder / f"{stem}.json"
    write_private(page_path, page.body)
    write_private(record_path, capture.record())
    return capture, page_path, record_path


def verify_capture(record_path: Path) -> bool:
    """Whether the saved page still has the SHA-256 its record states."""
    data = json.loads(record_path.read_text(encoding="utf-8"))
    saved = record_path.with_name(str(data["file"]))
    return bool(hashlib.sha256(saved.read_bytes()).hexdigest() == data["sha256"])
