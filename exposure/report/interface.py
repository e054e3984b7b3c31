"""What every output format implements. Adding a format touches one module, one enum member,
one test, the README and the CHANGELOG."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from ..models import ScanResult


class ReportError(Exception):
    """A report could not be rendered (a bug, not bad input: scraped data is always escaped)."""


class Format(StrEnum):
    HTML = "html"
    JSON = "json"
    MARKDOWN = "markdown"
    CSV = "csv"


class Reporter(Protocol):
    """Turns a finished scan into the bytes of one file."""

    suffix: str  # file name ending, with the dot

    def render(self, scan: ScanResult) -> bytes: ...
