"""Output formats: one module per format behind `interface.Reporter`, chosen with `reporter(fmt)`.

    >>> from exposure.report import reporter, Format
    >>> path.write_bytes(reporter(Format.HTML).render(scan))

Adding a format touches one module, one `Format` member, the table below and one test.
"""

from __future__ import annotations

from collections.abc import Callable

from .csv_report import CsvReporter
from .html import HtmlReporter
from .interface import Format, Reporter, ReportError
from .json_report import JsonReporter
from .markdown import MarkdownReporter

_REPORTERS: dict[Format, Callable[[], Reporter]] = {
    Format.HTML: HtmlReporter,
    Format.JSON: JsonReporter,
    Format.MARKDOWN: MarkdownReporter,
    Format.CSV: CsvReporter,
}


def reporter(fmt: Format | str) -> Reporter:
    """The reporter for a format ("html", "json", "markdown", "csv"); ValueError names the choices."""
    try:
        return _REPORTERS[Format(fmt)]()
    except ValueError:
        choices = ", ".join(f.value for f in Format)
        raise ValueError(f"unknown report format {fmt!r}; choose one of {choices}") from None


__all__ = ["Format", "ReportError", "Reporter", "reporter"]
