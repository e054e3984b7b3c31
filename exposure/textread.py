"""Read what a listing says when the rule's selectors miss: ages, places and labelled lists.

Sites rename and merge elements every few months: the age and the city end up in one element ("Age 47 •
Springfield, IL"), labels move into `<span>`s, "Related to" becomes a label beside its links. A rule's field
selectors then find nothing, and a listing read as a bare name can neither confirm nor rule out the user.
This module reads the same facts from the listing's visible text and structure, the way a person reading
the card would: a label, then its values in the same element or in the element after it.

What it returns is raw text for `match.py` to judge, like any selector's values. Values cut short on the
page ("Ellen Holl…", "and 3 more") are kept with their ellipsis or dropped, never completed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from lxml import etree

from .models import Evidence, ExposureKind
from .normalize import is_truncated, state_abbr

# Labels as people-search cards write them (lower case, without the colon), per kind of value that follows.
_LABELS: dict[str, tuple[str, ...]] = {
    "relatives": (
        "related to",
        "possible relatives",
        "relatives",
        "relative",
        "family members",
        "family",
        "associated with",
        "associated people",
        "may be related to",
    ),
    "aliases": (
        "also known as",
        "aka",
        "a.k.a.",
        "aliases",
        "alias",
        "also seen as",
        "associated names",
        "other names",
        "known as",
        "name variations",
        "previous names",
    ),
    "past_places": (
        "used to live in",
        "used to live",
        "previously lived in",
        "has lived in",
        "lived in",
        "past addresses",
        "previous addresses",
        "prior addresses",
        "past locations",
        "previous locations",
        "past cities",
        "address history",
    ),
    "current_place": (
        "currently lives in",
        "lives in",
        "resides in",
        "living in",
        "current address",
        "current location",
        "current city",
        "location",
        "resides",
    ),
    "age": ("age", "aged"),
    # not read here (match.py scans the text for them), but they end the list before them
    "stop": (
        "phone numbers",
        "phone number",
        "phones",
        "phone",
        "email addresses",
        "emails",
        "email",
        "addresses",
        "address",
        "view details",
        "view full report",
        "view report",
        "see more",
        "show more",
        "more info",
    ),
}
_LABEL_OF: dict[str, str] = {label: kind for kind, labels in _LABELS.items() for label in labels}
# longest first, so "used to live in" wins over "lived in" and "phone numbers" over "phone"
_LABEL_RE = re.compile(
    r"^\s*(" + "|".join(re.escape(lb) for lb in sorted(_LABEL_OF, key=len, reverse=True)) + r")(?![a-z])\s*[:\-–]?\s*",
    re.I,
)
_INLINE = frozenset({"span", "a", "b", "strong", "em", "i", "label", "small", "font", "u", "abbr", "mark", "time"})

_STATE_NAMES = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|District of Columbia|Florida|Georgia|"
    "Hawaii|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota|"
    "Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York|North Carolina|"
    "North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|Rhode Island|South Carolina|South Dakota|Tennessee|Texas|Utah|"
    "Vermont|Virginia|Washington|West Virginia|Wisconsin|Wyoming|Puerto Rico"
)
# "Springfield, IL", "Springfield, Illinois", "Winston-Salem, NC 27101": a city of at most five words
_PLACE = (
    r"([A-Za-z][A-Za-z.'\-]*(?: [A-Za-z][A-Za-z.'\-]*){0,4}),\s*("
    + _STATE_NAMES
    + r"|[A-Z]{2})(?:\s+\d{5}(?:-\d{4})?)?"
)
# the look-behind holds every character of a city word, so a match starts once per word ("a.a.a.a..." was
# quadratic when every letter after a dot could start one)
_PLACE_RE = re.compile(r"(?<![A-Za-z.'\-])" + _PLACE + r"(?![A-Za-z])")
_PLACE_FULL_RE = re.compile(r"^\s{0,3}" + _PLACE + r"\s{0,3}$")
# "..., lives in Springfield, Illinois": a current place inside a sentence
_LIVES_IN_RE = re.compile(r"\b(?:currently\s{1,3})?(?:lives|resides|living|located)\s{1,3}in\s{1,3}" + _PLACE, re.I)
_AGE_RES = (
    re.compile(r"\bage[ds]?\b\s{0,3}[:\-]?\s{0,3}(\d{1,3})\b", re.I),
    re.compile(r"\b(\d{1,3})\s{0,3}(?:years?\s{0,3}old|yrs?\b\.?|y/o\b)", re.I),
    # "(47)" beside a name; never an area code "(217)" and never the start of a phone number
    re.compile(r"\((\d{2})\)(?![\s.\-]{0,3}\d)"),
    # "Jane Testwood, 47": a name heading with the age after a comma
    re.compile(r"^[A-Za-z][A-Za-z .'\-]{1,60},\s*(\d{2,3})\s*$"),
)
_AGE_ANY = re.compile("|".join(p.pattern for p in _AGE_RES), re.I)
# separators between facts that share one element: "Age 47 • Springfield, IL", "Age 47 - Springfield, IL"
_SEGMENT_SPLIT = re.compile(r"\s{0,3}[•·|\u2022\u00b7]\s{0,3}|\s{1,3}[\-–—]\s{1,3}")
_VALUE_SPLIT = re.compile(r"\s{0,3}[,;|•·\u2022\u00b7]\s{0,3}")
_MORE = re.compile(
    r"^(?:and\s{1,3}|\+\s{0,3})?\d+\s{1,3}(?:more|others?)\b|^(?:view|see|show)\s{1,3}(?:all|more)\b", re.I
)
_AND_MORE = re.compile(r"\s{0,3}(?:\band\s{1,3}|\+\s{0,3})\d{1,6}\s{1,3}(?:more|others?)\b.*$", re.I)
_NAME_WORD = re.compile(r"^[A-Za-z][A-Za-z.'\-]*$")
# words that are buttons and headings, never part of a person's name
_UI_WORDS_TEXT = (
    "view details detail report full more see show all profile search results result click here free phone "
    "phones address addresses email emails age lives lived related relatives aliases known also previous past "
    "current open record records background check info information unlock premium"
)
_UI_WORDS = frozenset(_UI_WORDS_TEXT.split())
MAX_VALUES = 40  # per kind and listing: a card lists a handful


# What in a listing's text hints at each kind of fact: read_text runs only for the kinds whose hints appear,
# since on a page of 300 cards the structural reading is most of the analysis time.
_CUES: dict[ExposureKind, re.Pattern[str]] = {
    ExposureKind.AGE: re.compile(r"\bage[ds]?\b|years?\s{0,3}old|\byrs?\b|y/o|\(\d{2}\)|,\s{0,3}\d{2,3}\b", re.I),
    ExposureKind.LOCATION: re.compile(
        r",\s{0,3}(?:[A-Z]{2}\b|" + _STATE_NAMES + r")|\s[A-Z]{2}\b|"
        r"\b(?:lives?|lived|living|resides?|resided|location|locations|address|addresses|cities)\b",
        re.I,
    ),
    ExposureKind.RELATIVE: re.compile(r"\b(?:related|relatives?|family|associated with|associated people)\b", re.I),
    ExposureKind.ALIAS: re.compile(
        r"\b(?:known as|aka|a\.k\.a|alias(?:es)?|also seen|associated names|other names|name variations)\b", re.I
    ),
}


PAST_PLACES_CUE = re.compile(
    r"\b(?:used to live|lived in|has lived|past address|previous address|prior address|past locations|"
    r"previous locations|address history|past cities)",
    re.I,
)


def cues(text: str, wanted: frozenset[ExposureKind]) -> frozenset[ExposureKind]:
    """The kinds among `wanted` whose hints appear in the text: the only ones worth reading for."""
    return frozenset(k for k in wanted if k in _CUES and _CUES[k].search(text))


def label_kind(text: str) -> tuple[str, str] | None:
    """(kind, rest) when the text starts with a known label ("Related to: Ann" -> ("relatives", "Ann"))."""
    m = _LABEL_RE.match(text)
    if not m:
        return None
    return _LABEL_OF[m.group(1).lower()], text[m.end() :]


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


def _text(el: Any) -> str:
    return " ".join(" ".join(t for t in el.itertext()).split()) if isinstance(el.tag, str) else ""


def _starts_with_label(el: Any) -> bool:
    """Whether the element's text starts with a label; only its first words are read (a long list's element
    would otherwise be joined whole for every sibling looked at)."""
    if not isinstance(el.tag, str):
        return False
    head: list[str] = []
    size = 0
    for piece in el.itertext():
        head.append(piece)
        size += len(piece)
        if size > 80:
            break
    return label_kind(" ".join(" ".join(head).split())) is not None


@dataclass
class _Run:
    """One label and the text pieces that are its values."""

    kind: str
    label: str
    pieces: list[str] = field(default_factory=list)

    @property
    def snippet(self) -> str:
        return _norm(f"{self.label} {' '.join(self.pieces)}")[:300]


def _pieces_of(el: Any) -> list[str]:
    """An element's text as separate pieces, one per element that holds text, however deep: values are often
    one element each (links, or `span.nowrap`s inside a wrapper), and joined they would read as one name."""
    if not isinstance(el.tag, str):
        return []
    out: list[str] = []
    for event, node in etree.iterwalk(el, events=("start", "end")):
        if not isinstance(node.tag, str):
            continue
        if event == "start":
            out.append(_norm(node.text))
        elif node is not el:
            out.append(_norm(node.tail))
    return [p for p in out if p]


def _after_label_only(node: Any, stop: Any, used: list[Any]) -> list[str]:
    """Values for a label that is alone in its element: in the elements after it, climbing out of wrappers
    that hold only the label, up to the listing element `stop`. The elements read are added to `used`."""
    while node is not None and node is not stop:
        tail = _norm(node.tail)
        sibs = [s for s in node.itersiblings() if isinstance(s.tag, str)]
        if tail or any(_text(s) for s in sibs):
            pieces = [tail] if tail else []
            if node.tag in _INLINE or tail:
                # label and values side by side: <span>Related to</span> <a>Ann</a>, <a>Bob</a>
                for s in sibs:
                    if _starts_with_label(s):
                        break
                    pieces.extend(_pieces_of(s))
                    pieces.append(_norm(s.tail))
                    used.append(s)
                return pieces
            # a label block and a value block: <div class=label>Related to</div><div class=value>...</div>,
            # and lists of value blocks of one kind: <dt>Relatives</dt><dd>Ann</dd><dd>Bob</dd>
            first = None
            for s in sibs:
                if not _text(s):
                    continue
                if _starts_with_label(s):
                    break
                if first is None:
                    first = s
                elif s.tag != first.tag or s.get("class") != first.get("class"):
                    break
                pieces.extend(_pieces_of(s))
                used.append(s)
            return pieces
        node = node.getparent()
    return []


@lru_cache(maxsize=32)
def _labels_of(kinds: frozenset[str]) -> re.Pattern[str]:
    """A regex for the labels of these kinds only: on a page of 300 cards, following every label's values
    (those of kinds nobody asked for included) was most of the analysis time."""
    labels = sorted((lb for k in kinds for lb in _LABELS[k]), key=len, reverse=True)
    return re.compile(r"^\s*(" + "|".join(re.escape(lb) for lb in labels) + r")(?![a-z])", re.I)


def _runs(listing: Any, kinds: frozenset[str]) -> Iterator[tuple[_Run, list[Any]]]:
    """Every labelled run of these kinds in the listing, with the elements it used (so their text is not
    read twice)."""
    wanted = _labels_of(kinds)
    for el in listing.iter():
        if not isinstance(el.tag, str):
            continue
        for is_tail in (False, True):
            raw = el.tail if is_tail else el.text
            if not raw or (is_tail and el is listing) or not wanted.match(raw):
                continue
            hit = label_kind(raw)
            if hit is None or hit[0] not in kinds:
                continue
            yield _run_at(el, is_tail, raw, hit, listing)


def _run_at(el: Any, is_tail: bool, raw: str, hit: tuple[str, str], listing: Any) -> tuple[_Run, list[Any]]:
    """The run that starts with the label `hit` in the text or tail of `el`."""
    kind, rest = hit
    label = raw[: len(raw) - len(rest)].strip()
    run = _Run(kind, label, [_norm(rest)] if rest.strip() else [])
    used: list[Any] = [el]
    if is_tail:
        # "<br>Related to: Ann, Bob<br>": the tail's own text, then inline siblings up to a break
        for s in el.itersiblings():
            if not isinstance(s.tag, str) or s.tag == "br" or s.tag not in _INLINE or _starts_with_label(s):
                break
            run.pieces.extend(_pieces_of(s))
            run.pieces.append(_norm(s.tail))
            used.append(s)
    else:
        for c in el:
            if not isinstance(c.tag, str):
                continue
            if _starts_with_label(c):
                break
            run.pieces.extend(_pieces_of(c))
            run.pieces.append(_norm(c.tail))
        if not any(run.pieces):
            run.pieces = _after_label_only(el, listing, used)
    run.pieces = [p for p in run.pieces if p]
    return run, used


def _names(run: _Run) -> list[str]:
    out: list[str] = []
    for piece in run.pieces:
        for part in _VALUE_SPLIT.split(piece[:2000]):
            part = _AND_MORE.sub("", part.strip(" :")).removeprefix("and ").strip()
            cut = part.endswith(("…", ".."))  # cut short on the page: partial, never a full name
            part = part.rstrip(".… ").strip()
            if not part or _MORE.match(part) or not plausible_name(part):
                continue
            out.append(part + "…" if cut else part)
    return out


def plausible_name(text: str) -> bool:
    """Two to six name-like words, none of them a button or heading word ("View Details" is not a person)."""
    words = text.replace(",", " ").split()
    if not 2 <= len(words) <= 6:
        return False
    return all(_NAME_WORD.match(w) and w.lower().strip(".") not in _UI_WORDS for w in words)


_PLACE_NO_COMMA = re.compile(
    r"^([A-Za-z][A-Za-z.'\-]*(?: [A-Za-z][A-Za-z.'\-]*){0,4}) ([A-Z]{2})(?: \d{5}(?:-\d{4})?)?$"
)


_CITY = re.compile(r"^[A-Za-z][A-Za-z.'\-]*(?: [A-Za-z][A-Za-z.'\-]*){0,4}$")


def run_places(pieces: list[str]) -> list[str]:
    """The places of a labelled place list ("Used to live in ..."), written "City, ST", "City, State" or
    "City ST" without the comma, often mixed in one list ("Springfield, IL, Lubbock TX, Edmond OK"): a list
    under such a label holds only places, so each comma-separated part is a city, a state, or both."""
    # one element per place, but the pieces of one place may come apart ("Chicago", ",", "IL" in three
    # spans): a piece that is only a comma joins its neighbours back
    joined = re.sub(r"\s{0,3}\|\s{0,3},\s{0,3}(?:\|\s{0,3})?", ", ", " | ".join(pieces)[:2000])
    out: list[str] = []
    for chunk in re.split(r"\s{0,3}[;|•·\u2022]\s{0,3}", joined):
        out.extend(_chunk_places(chunk))
    return out


def _chunk_places(chunk: str) -> list[str]:
    parts = [p.strip() for p in chunk.split(",")]
    out = []
    i = 0
    while i < len(parts):
        part = parts[i]
        nxt = parts[i + 1].split() if i + 1 < len(parts) else []
        m = _PLACE_NO_COMMA.match(part)
        if m and state_abbr(m.group(2)) and not label_kind(m.group(1)):
            out.append(f"{m.group(1)}, {m.group(2)}")
        elif _CITY.match(part) and nxt and not is_truncated(parts[i + 1]):
            state = parts[i + 1] if state_abbr(parts[i + 1]) else (nxt[0] if state_abbr(nxt[0]) else "")
            if state and not label_kind(part):
                out.append(f"{part}, {state}")
                i += 1
        i += 1
    return out


def cut_short(pieces: list[str]) -> bool:
    """Whether a list's text ends cut short ("Peori...", "…"): what is missing may be exactly the user's."""
    return bool(pieces) and is_truncated(" ".join(pieces))


def places_in(text: str) -> list[str]:
    """Every "City, ST" or "City, State" in the text, as written."""
    out = []
    for m in _PLACE_RE.finditer(text):
        city, state = m.group(1), m.group(2)
        if state_abbr(state) and not label_kind(city):
            out.append(f"{city}, {state}")
    return out


def age_in(text: str) -> str | None:
    """The age a text shows ("Age 47", "47 years old", "(47)", "Jane Doe, 47"), as "Age 47"; or None."""
    for pattern in _AGE_RES:
        m = pattern.search(text)
        if m and 0 < int(m.group(1)) < 120:
            return f"Age {int(m.group(1))}"
    return None


def read_text(
    listing: Any, wanted: frozenset[ExposureKind], more_places: bool = False, cut: set[ExposureKind] | None = None
) -> dict[ExposureKind, list[Evidence]]:
    """The facts a listing's text shows, for the kinds in `wanted` (those its selectors did not find).

    `more_places`: the rule's selector read a place, but the card also lists places under a label ("Past
    Addresses", "Used to live in"): read those too. A card whose current city is read and whose past cities
    are not would contradict a user whose profile holds one of the past ones, and be called a namesake.
    `cut` (when given) receives the kinds whose list was cut short on the page."""
    cut = cut if cut is not None else set()
    out: dict[ExposureKind, list[Evidence]] = {}
    # the elements themselves, not id()s: lxml makes element proxies on the fly, and the id of a proxy
    # that was let go is reused by the next one
    used_els: set[Any] = set()
    current: list[Evidence] = []
    past: list[Evidence] = []

    def add(kind: ExposureKind, value: str, snippet: str) -> None:
        values = out.setdefault(kind, [])
        if len(values) < MAX_VALUES and all(v.value != value for v in values):
            values.append(Evidence(value[:300], snippet[:300]))

    places = ExposureKind.AGE in wanted or ExposureKind.LOCATION in wanted
    kinds = {"relatives", "aliases", "current_place", "past_places", "age", "stop"} if places else set()
    if more_places and not places:
        # only the place lists: other labels' runs would be followed and thrown away (the unlabelled text,
        # for which every run's elements are set aside, is not read when no age or place is wanted)
        kinds |= {"past_places", "current_place"}
    kinds |= {"relatives"} if ExposureKind.RELATIVE in wanted else set()
    kinds |= {"aliases"} if ExposureKind.ALIAS in wanted else set()
    for run, used in _runs(listing, frozenset(kinds)):
        joined = " | ".join(run.pieces)
        if run.kind in ("current_place", "past_places") and cut_short(run.pieces):
            out.setdefault(ExposureKind.LOCATION, [])
            cut.add(ExposureKind.LOCATION)
        if run.kind != "age":  # "Age 47 • Springfield, IL": the place after the age is read below
            used_els.update(used)
        if run.kind == "relatives" and ExposureKind.RELATIVE in wanted:
            for name in _names(run):
                add(ExposureKind.RELATIVE, name, run.snippet)
        elif run.kind == "aliases" and ExposureKind.ALIAS in wanted:
            for name in _names(run):
                add(ExposureKind.ALIAS, name, run.snippet)
        elif run.kind in ("current_place", "past_places"):
            target = current if run.kind == "current_place" else past
            for place in run_places(run.pieces):
                target.append(Evidence(place, run.snippet))
        elif run.kind == "age" and ExposureKind.AGE in wanted:
            m = re.search(r"\d{1,3}", joined[:20])
            if m and 0 < int(m.group(0)) < 120:
                add(ExposureKind.AGE, f"Age {m.group(0)}", run.snippet)

    # unlabelled facts: "Age 47 • Springfield, IL" in one element, or a bare "Springfield, IL" line
    for chunk in _unlabelled_chunks(listing, used_els) if places else ():
        if ExposureKind.AGE in wanted and ExposureKind.AGE not in out:
            age = age_in(chunk)
            if age:
                add(ExposureKind.AGE, age, chunk)
        for m in _LIVES_IN_RE.finditer(chunk):
            if state_abbr(m.group(2)):
                current.append(Evidence(f"{m.group(1)}, {m.group(2)}", chunk))
        for segment in _SEGMENT_SPLIT.split(chunk):
            # "(47) Springfield, IL": the age beside the place is not part of it
            segment = _AGE_ANY.sub("", segment).strip(" ,")
            if _PLACE_FULL_RE.match(segment) and places_in(segment):
                current.append(Evidence(segment.strip(), chunk))
    if ExposureKind.LOCATION in wanted or more_places:
        for ev in (*current, *past):
            add(ExposureKind.LOCATION, ev.value, ev.snippet)
    return out


def _unlabelled_chunks(listing: Any, used: set[Any]) -> Iterator[str]:
    """Each text node of the listing outside the labelled runs, merged with inline neighbours."""
    skip: set[Any] = set()
    for el in used:
        skip.update(el.iter())
    buf: list[str] = []
    for event, el in etree.iterwalk(listing, events=("start", "end")):
        if not isinstance(el.tag, str):
            continue
        block = el.tag not in _INLINE
        if event == "start":
            if block and buf:
                yield " ".join(buf)
                buf = []
            if el not in skip and el.text and el.text.strip():
                buf.append(_norm(el.text))
        else:
            if block and buf:
                yield " ".join(buf)
                buf = []
            parent = el.getparent()
            if el is not listing and el.tail and el.tail.strip() and (parent is None or parent not in skip):
                buf.append(_norm(el.tail))
    if buf:
        yield " ".join(buf)
