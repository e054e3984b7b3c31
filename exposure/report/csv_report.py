"""The CSV report: a spreadsheet of listings, one row per exposed value (or per listing without values).

Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` as a formula (and tab or carriage
return can smuggle one in), and these cells hold text scraped from sites we do not control: such a
cell gets a leading apostrophe, which spreadsheets treat as "this is text" (OWASP's CSV-injection
advice). Written as UTF-8 with a byte-order mark so Excel does not garble non-ASCII names.
"""

from __future__ import annotations

import csv
import io

from ..models import ScanResult, SiteResult, Verdict

COLUMNS = (
    "scan_id",
    "site_id",
    "site",
    "domain",
    "site_status",
    "listing_url",
    "relation",
    "confidence",
    "kind",
    "value",
    "yours",
    "partly_hidden",
    "evidence",
    "reasons",
    "opt_out_url",
    "opt_out_days",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """One cell's text, neutralised if a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    if text.lstrip(" ").startswith(_FORMULA_START):
        return "'" + text
    return text


def _relation(v: Verdict) -> str:
    if v.ignored:
        return "not me (marked by you)"
    if v.is_user:
        return "you"
    if v.identifier_exposed:
        return "your details under another name"
    if v.unconfirmed:
        return "your name, not confirmed: check it yourself"
    if v.namesake:
        return "possible namesake"
    return "someone else"


def _rows(scan: ScanResult, s: SiteResult) -> list[list[object]]:
    rows: list[list[object]] = []
    o = s.opt_out
    # The user's own listings first, then namesakes and the rest, as the HTML report reads.
    verdicts = sorted(
        s.verdicts,
        key=lambda v: (v.ignored, not (v.is_user or v.identifier_exposed), not v.unconfirmed, not v.namesake),
    )
    for v in verdicts:
        site = [
            scan.id,
            s.site.id,
            s.site.name,
            s.site.domain,
            s.status.value,
            v.listing.url,
            _relation(v),
            f"{v.confidence:.2f}",
        ]
        tail = ["; ".join(v.reasons), o.url if o else "", "" if o is None or o.days is None else o.days]
        if not v.exposed:
            rows.append([*site, "", "", "", "", "", *tail])
        for e in v.exposed:
            rows.append(
                [
                    *site,
                    e.kind.value,
                    e.value,
                    "yes" if e.matches_profile else "no",
                    "yes" if e.partial else "no",
                    e.evidence,
                    *tail,
                ]
            )
    return rows


class CsvReporter:
    suffix = ".csv"

    def render(self, scan: ScanResult) -> bytes:
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180 line endings; csv quotes embedded newlines
        writer.writerow(COLUMNS)
        for s in scan.sites:
            for row in _rows(scan, s):
                writer.writerow([cell(c) for c in row])
        for b in scan.by_hand:
            o = b.opt_out
            days = "" if o is None or o.days is None else o.days
            row = [
                scan.id,
                b.site.id,
                b.site.name,
                b.site.domain,
                "check_by_hand",
                b.site.manual_url,
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                b.why,
                o.url if o else "",
                days,
            ]
            writer.writerow([cell(c) for c in row])
        return out.getvalue().encode("utf-8-sig")
