"""Any page -> which of the profile's identifiers it shows: the reading behind `exposure check URL`.

A rule knows where a site puts its listings; a page the person found themselves (a search result, a forum
post, a paste) has no rule. It is read as one listing made of the whole visible page: names are looked for
around every occurrence of one of the user's (or their relatives') surnames, places as "City, ST", labelled
facts (age, "related to", "also known as") with the generic reading of `textread.py`, and phones, emails
and street addresses anywhere in the text, by `match.judge` like any listing. What comes out is what the page
shows that is the user's, each value with the piece of text it was read from.

A page that is a check page or a block page, or could not be loaded, is "could not check": never "shows
nothing of yours".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import regex

from .capture import Capture
from .classify import detect_protection
from .extract import prepare
from .match import judge, name_match
from .models import Evidence, Exposure, ExposureKind, Listing, Outcome, Page, Verdict
from .normalize import fold
from .parse import Document
from .profile import Profile
from .textread import places_in, read_text

MAX_TEXT = 2_000_000  # characters of visible text read; the rest of a larger page is left out, and said so
MAX_CANDIDATES = 200  # name candidates tried per page
MAX_VALUES = 40  # values kept per kind
_WORD = regex.compile(r"[\p{L}][\p{L}'’.\-]{0,40}")
_LABELLED = frozenset({ExposureKind.AGE, ExposureKind.RELATIVE, ExposureKind.ALIAS})


@dataclass(frozen=True)
class PageReading:
    """What one page shows of the user, or why it could not be read."""

    url: str
    verdict: Verdict | None  # None when the page could not be read
    outcome: Outcome | None = None  # why not (blocked, timeout, error, ...) when verdict is None
    detail: str = ""
    cut: bool = False  # the page's text was longer than MAX_TEXT: only its start was read

    @property
    def exposures(self) -> tuple[Exposure, ...]:
        """The user's own values the page shows."""
        if self.verdict is None:
            return ()
        return tuple(e for e in self.verdict.exposed if e.matches_profile)

    @property
    def exposes(self) -> bool:
        return bool(self.exposures)


@dataclass(frozen=True)
class PageCheck:
    """`exposure check URL`: what the page shows of the user, and where the page was kept."""

    reading: PageReading
    page: Page
    capture: Capture | None = None
    saved: Path | None = None  # the page's file; its record is beside it (same name, .json)


def _snippet(text: str, start: int, end: int, width: int = 60) -> str:
    a, b = max(0, start - width), min(len(text), end + width)
    return ("…" if a else "") + text[a:b].strip() + ("…" if b < len(text) else "")


def names_in(text: str, profile: Profile) -> tuple[list[Evidence], list[Evidence]]:
    """Names written on the page that could be the user's, and names that could be a relative's: runs of
    two to four words ending on (or, "Last, First", starting with) one of their surnames. Of the runs around
    one occurrence, the user's is the one that matches best ("Jane Marie Testwood", not "Marie Testwood" nor
    "Testwood, Janie Evanston"); relatives' are all passed on, for `judge` to decide."""
    surnames = {part for n in profile.names for part in n.last_parts}
    relative_surnames = {part for r in profile.relatives for part in r.last_parts}
    words = [(m.start(), m.end(), fold(m.group())) for m in _WORD.finditer(text)]
    mine: dict[str, Evidence] = {}
    relatives: dict[str, Evidence] = {}
    tried = 0
    for i, (_start, end, folded) in enumerate(words):
        if folded not in surnames and folded not in relative_surnames:
            continue
        spans = [(words[j][0], end) for j in range(i - 1, max(-1, i - 4), -1)]  # "Jane M Testwood"
        if i + 1 < len(words) and text[end : words[i + 1][0]].strip() == ",":  # "Testwood, Jane M"
            spans += [(words[i][0], words[k][1]) for k in range(i + 1, min(len(words), i + 3))]
        best: tuple[tuple[bool, float, int], str, int, int] | None = None
        for a, b in spans:
            raw = " ".join(text[a:b].split())
            tried += 1
            if len(raw) > 80 or tried > MAX_CANDIDATES:
                continue
            if folded in relative_surnames and fold(raw) not in relatives and len(relatives) < MAX_VALUES:
                relatives[fold(raw)] = Evidence(raw, _snippet(text, a, b))
            hit = name_match(raw, profile) if folded in surnames else None
            if hit is not None:
                rank = (not hit.conflict, hit.strength, -len(raw))
                if best is None or rank > best[0]:
                    best = (rank, raw, a, b)
        if best is not None and fold(best[1]) not in mine and len(mine) < MAX_VALUES:
            mine[fold(best[1])] = Evidence(best[1], _snippet(text, best[2], best[3]))
    return list(mine.values()), list(relatives.values())


def read_page(page: Page, profile: Profile, today: date | None = None) -> PageReading:
    """Read a page that no rule knows, for the user's identifiers."""
    if page.failure is not None:
        return PageReading(page.url, None, page.failure, page.detail)
    doc = Document(page.text, page.final_url)
    doc.strip_invisible()
    prepare(doc)  # Cloudflare-hidden emails read as the page shows them
    full = doc.visible_text()
    text, cut = full[:MAX_TEXT], len(full) > MAX_TEXT
    names, relatives = names_in(text, profile)
    values: dict[ExposureKind, tuple[Evidence, ...]] = {}
    if names:
        values[ExposureKind.NAME] = tuple(names)
    body = doc.root.find("body")
    labelled = read_text(body if body is not None else doc.root, _LABELLED)
    for kind, found in labelled.items():
        values[kind] = tuple(found[:MAX_VALUES])
    if relatives:
        values[ExposureKind.RELATIVE] = (*values.get(ExposureKind.RELATIVE, ()), *relatives)
    places = [Evidence(p, p) for p in dict.fromkeys(places_in(text))][:MAX_VALUES]
    if places:
        values[ExposureKind.LOCATION] = tuple(places)
    verdict = judge(Listing(page.final_url, page.final_url, values, text), profile, today)
    reading = PageReading(page.url, verdict, cut=cut)
    if not reading.exposes:
        # a check page or a block page shows nothing of anyone: that is "could not check", not "nothing"
        protection = detect_protection(page, doc, weak_allowed=True)
        if protection:
            return PageReading(page.url, None, Outcome.BLOCKED, f"blocked by {protection}")
        if page.status is not None and page.status >= 400:
            return PageReading(page.url, None, Outcome.UNRECOGNIZED, f"HTTP {page.status} instead of the page")
    return reading
