"""Page -> listings: records of raw values, read with the rule's selectors and embedded JSON.

Extraction reports what a page shows, as shown; deciding what it means is `match.py`'s job. Links it
finds (detail pages, next page) are returned for the pipeline to fetch through the same site checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

import jmespath
from jmespath.visitor import TreeInterpreter

from .models import Evidence, ExposureKind, Listing
from .normalize import decode_cfemail, fold, is_truncated
from .parse import Document, load_json, node_text, select
from .rules import Detail, EmbeddedJson, Fields, FieldSpec, Rule
from .textread import PAST_PLACES_CUE, cues, read_text

FIELD_KINDS: dict[str, ExposureKind] = {
    "name": ExposureKind.NAME,
    "aliases": ExposureKind.ALIAS,
    "age": ExposureKind.AGE,
    "location": ExposureKind.LOCATION,
    "addresses": ExposureKind.ADDRESS,
    "phones": ExposureKind.PHONE,
    "emails": ExposureKind.EMAIL,
    "relatives": ExposureKind.RELATIVE,
}
# How a field of a site's embedded data is named in the evidence a person reads: their words, not our keys.
FIELD_WORDS: dict[str, str] = {
    "name": "name",
    "aliases": "also known as",
    "age": "age",
    "location": "lives in",
    "addresses": "address",
    "phones": "phone",
    "emails": "email",
    "relatives": "relative",
}
MAX_LISTINGS = 500  # per page; a page with more is cut (and the site "could not check"), not parsed without end
MAX_VALUE = 300  # characters kept of one value
# Where else a listing's link hides when its selector's attribute is empty: sites that open a card with a
# script keep the URL in a data attribute.
LINK_ATTRS = ("href", "data-detail-link", "data-url", "data-href", "data-link")
_DATA_LINK = "descendant-or-self::*[@data-detail-link or @data-url or @data-href or @data-link]"


# One interpreter for every search: `jmespath.search` builds a new one, with an empty table of its node handlers,
# on every call (5.7 microseconds a search against 2.5), and a page of embedded data runs about thirty searches.
# Each expression is still parsed once, by jmespath's own cache of parsed expressions.
_JMESPATH = TreeInterpreter()


def jmes(expression: str, data: Any) -> Any:
    """`jmespath.search`, without its cost per call; raises the same errors."""
    return _JMESPATH.visit(jmespath.compile(expression).parsed, data)


@dataclass
class Extraction:
    """What one results page yields: listings, and links still to follow."""

    listings: list[Listing] = field(default_factory=list)
    detail_links: list[str | None] = field(default_factory=list)  # per listing, same order
    next_page: str | None = None
    cut: int = 0  # listings beyond MAX_LISTINGS, not read
    drift: tuple[str, ...] = ()  # fields the rule expects that most listings lacked
    notes: list[str] = field(default_factory=list)  # what was ignored (links that do not parse, ...)


def safe_join(base_url: str, link: str) -> str | None:
    """The absolute URL of a link on a page, or None when it does not parse ("http://[::1", "http://[x]/").

    urljoin and urlsplit raise ValueError on a malformed host: one bad link on a hostile page must be one
    ignored link, never a crashed scan.
    """
    try:
        url = urljoin(base_url, link.strip())
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    return url


def prepare(doc: Document) -> None:
    """Undo Cloudflare's email protection in place, so the address reads as the page shows it."""
    if "data-cfemail" not in doc.raw and "/cdn-cgi/l/email-protection" not in doc.raw:
        return  # the two whole-page searches below cost more than this look at the raw text
    for el in doc.root.xpath("//*[@data-cfemail]"):
        decoded = decode_cfemail(el.get("data-cfemail", ""))
        if decoded:
            for child in list(el):
                el.remove(child)
            el.text = decoded
    for el in doc.root.xpath("//a[contains(@href, '/cdn-cgi/l/email-protection#')]"):
        decoded = decode_cfemail(el.get("href", "").rsplit("#", 1)[-1])
        if decoded and not "".join(el.itertext()).strip():
            el.text = decoded


def _cut(text: str, spec: FieldSpec) -> str:
    if spec.after:
        i = text.lower().find(spec.after.lower())
        if i < 0:
            return ""
        text = text[i + len(spec.after) :]
    if spec.before:
        j = text.lower().find(spec.before.lower())
        if j >= 0:
            text = text[:j]
    return text.strip(" :,-\u2022|")


def read_field(node: Any, spec: FieldSpec) -> list[Evidence]:
    """Every value a field selector yields inside node (never node itself), with the element text as evidence."""
    out: list[Evidence] = []
    for el in select(node, spec.selector, relative=True):
        if isinstance(el, str):
            text = " ".join(el.split())
        elif spec.attr:
            text = " ".join((el.get(spec.attr) or "").split())
        else:
            text = node_text(el)
        snippet = text
        text = _cut(text, spec)
        parts = text.split(spec.split) if spec.split else [text]
        for part in parts:
            part = part.strip(" ,;\u2022|")
            if part:
                out.append(Evidence(part[:MAX_VALUE], snippet[:MAX_VALUE]))
    return out


def read_fields(node: Any, fields: Fields) -> dict[ExposureKind, list[Evidence]]:
    values: dict[ExposureKind, list[Evidence]] = {}
    for key, spec in fields.items():
        found = read_field(node, spec)
        if found:
            values.setdefault(FIELD_KINDS[key], []).extend(found)
    return values


_NAME_GUESS = ".//h1|.//h2|.//h3|.//h4|.//h5|.//strong|.//b"


def guess_name(listing: Any) -> Evidence | None:
    """The listing's name when the rule names no selector for it: its first heading or bold text, else its
    first line. Searching the whole text for the user's name instead would be fooled by relatives' names."""
    for el in listing.xpath(_NAME_GUESS):
        text = node_text(el)
        if text and len(text) <= 80:
            return Evidence(text, text)
    for chunk in listing.itertext():
        text = " ".join(chunk.split())
        if text:
            return Evidence(text[:80], text[:MAX_VALUE]) if len(text) <= 80 else None
    return None


def _json_values(value: Any) -> Iterable[str]:
    """A JSON value as text values: lists give several, objects (a PostalAddress) give one joined text."""
    if value is None:
        return
    if isinstance(value, list):
        for v in value:
            yield from _json_values(v)
    elif isinstance(value, dict):
        scalars = [str(v) for k, v in value.items() if not str(k).startswith("@") and isinstance(v, str | int | float)]
        if scalars:
            yield ", ".join(s for s in scalars if s.strip())
    elif isinstance(value, bool):
        return
    else:
        yield str(value)


def read_embedded(
    doc: Document,
    body_text: str,
    spec: EmbeddedJson,
    base_url: str,
    result: Extraction | None = None,
    found_by: tuple[str, ...] = (),
) -> list[Listing]:
    """Listings from JSON in script elements (JSON-LD, __NEXT_DATA__) or from a JSON body."""
    result = result if result is not None else Extraction()
    sources = doc.scripts(spec.script) if spec.script else [body_text]
    listings: list[Listing] = []
    for raw in sources:
        data = load_json(raw)
        if data is None:
            continue
        for root in data if isinstance(data, list) and spec.script else [data]:
            try:
                people = jmes(spec.listings, root)
            except jmespath.exceptions.JMESPathError:
                people = None
            if isinstance(people, dict):
                people = [people]
            if not isinstance(people, list):
                continue
            if len(people) > MAX_LISTINGS:
                result.cut += len(people) - MAX_LISTINGS
            for person in people[:MAX_LISTINGS]:
                if not isinstance(person, dict):
                    continue
                values: dict[ExposureKind, list[Evidence]] = {}
                for key, expr in spec.fields.items():
                    try:
                        found = jmes(expr, person)
                    except jmespath.exceptions.JMESPathError:
                        continue
                    for text in _json_values(found):
                        text = " ".join(text.split())[:MAX_VALUE]
                        if text:
                            values.setdefault(FIELD_KINDS[key], []).append(
                                Evidence(text, f"{FIELD_WORDS[key]}: {text}")
                            )
                link = jmes(spec.link, person) if spec.link else None
                url = base_url
                if isinstance(link, str) and link:
                    joined = safe_join(base_url, link)
                    if joined is None:
                        result.notes.append(f"a listing link that does not parse was ignored: {link[:80]!r}")
                    url = joined or base_url
                text = " | ".join(e.value for vs in values.values() for e in vs)
                listings.append(Listing(url, base_url, {k: tuple(v) for k, v in values.items()}, text, found_by))
    return listings


def _link(node: Any, selector: str, base_url: str, result: Extraction, relative: bool = True) -> str | None:
    """The first usable link the selector points at: its attribute (href unless the rule names another),
    else a data attribute of the same element. "#" and script links are no links."""
    spec = FieldSpec.model_validate(_shorthand(selector))
    for el in select(node, spec.selector, relative=relative):
        if isinstance(el, str):
            candidates: tuple[str | None, ...] = (el,)
        else:
            candidates = tuple(el.get(a) for a in dict.fromkeys((spec.attr or "href", *LINK_ATTRS)))
        for raw in candidates:
            url = _usable(raw, base_url, result)
            if url:
                return url
    return None


def _usable(raw: str | None, base_url: str, result: Extraction) -> str | None:
    raw = " ".join((raw or "").split())
    if not raw or raw.startswith("#") or raw.lower().startswith(("javascript:", "mailto:", "tel:")):
        return None
    url = safe_join(base_url, raw)
    if url is None:
        result.notes.append(f"a link that does not parse was ignored: {raw[:80]!r}")
    return url


def _data_link(listing: Any, base_url: str, result: Extraction) -> str | None:
    """A card that opens with a script: its URL in data-detail-link, data-url, ... on it or inside it."""
    for el in listing.xpath(_DATA_LINK):
        for attr in LINK_ATTRS[1:]:
            url = _usable(el.get(attr), base_url, result)
            if url:
                return url
    return None


def _shorthand(v: str) -> dict[str, str]:
    from .rules import _field_spec

    out: dict[str, str] = _field_spec(v)
    return out


# The kinds read from a listing's text when no selector found them (see textread.py).
TEXT_KINDS = frozenset({ExposureKind.AGE, ExposureKind.LOCATION, ExposureKind.RELATIVE, ExposureKind.ALIAS})


def _drift(rule: Rule, hits: list[set[str]]) -> tuple[str, ...]:
    """The fields the rule expects that most listings' selectors did not find: the page changed."""
    expected = list(rule.extract.expect)
    if rule.extract.fields.name is not None and "name" not in expected:
        expected.insert(0, "name")
    if not hits:
        return ()
    return tuple(f for f in expected if sum(f in h for h in hits) * 2 < len(hits))


def extract(doc: Document, body_text: str, rule: Rule, base_url: str, found_by: tuple[str, ...] = ()) -> Extraction:
    """Listings on a results page, plus the detail links and the next-page link to follow. Each listing
    carries `found_by` from the start: copying every listing afterwards to add it cost 3 microseconds a listing.

    A field its selector misses is read from the listing's text instead (textread.py), and the page is
    flagged as drifted when most listings miss a field the rule expects.
    """
    ex = rule.extract
    result = Extraction()
    hits: list[set[str]] = []
    # embedded JSON is read before scripts are stripped from the tree
    if ex.embedded is not None:
        for listing in read_embedded(doc, body_text, ex.embedded, base_url, result, found_by):
            result.listings.append(listing)
            result.detail_links.append(None)
            hits.append({k for k, kind in FIELD_KINDS.items() if kind in listing.values})
    doc.strip_invisible()
    prepare(doc)
    if ex.listing:
        elements = [el for el in select(doc.root, ex.listing) if not isinstance(el, str)]
        if len(elements) > MAX_LISTINGS:
            result.cut += len(elements) - MAX_LISTINGS
            elements = elements[:MAX_LISTINGS]
        for el in elements:
            text = node_text(el)
            if not text:
                continue  # an empty box is no listing
            values = read_fields(el, ex.fields)
            hits.append({k for k, kind in FIELD_KINDS.items() if kind in values})
            if ExposureKind.NAME not in values:
                guessed = guess_name(el)
                if guessed:
                    values[ExposureKind.NAME] = [guessed]
            wanted = cues(text, TEXT_KINDS.difference(values.keys()))
            more_places = ExposureKind.LOCATION in values and PAST_PLACES_CUE.search(text) is not None
            cut: set[ExposureKind] = set()
            if wanted or more_places:
                for kind, evs in read_text(el, wanted, more_places, cut).items():
                    if kind in wanted:
                        values[kind] = evs
                    elif kind is ExposureKind.LOCATION:  # past places beside the ones the selector read
                        known = {fold(e.value) for e in values[kind]}
                        values[kind] = values[kind] + [e for e in evs if fold(e.value) not in known]
            link_sel = ex.link or (ex.detail.link if ex.detail else None)
            url = (_link(el, ex.link, base_url, result) if ex.link else None) or base_url
            detail = _link(el, ex.detail.link, base_url, result) if ex.detail else None
            if link_sel and url == base_url and detail is None:
                detail_or_url = _data_link(el, base_url, result)
                if ex.detail:
                    detail = detail_or_url
                elif detail_or_url:
                    url = detail_or_url
            if detail and url == base_url:
                url = detail
            values = {k: v for k, v in values.items() if v}
            cut |= {k for k, evs in values.items() if any(is_truncated(e.value) for e in evs)}
            listing = Listing(
                url, base_url, {k: tuple(v) for k, v in values.items()}, text, found_by, cut=frozenset(cut)
            )
            result.listings.append(listing)
            result.detail_links.append(detail)
    result.drift = _drift(rule, hits)
    _merge_same_url(result, base_url)
    if ex.next_page is not None:
        result.next_page = _link(doc.root, ex.next_page.selector, base_url, result, relative=False)
    return result


def _merge_same_url(result: Extraction, base_url: str) -> None:
    """One person read twice from one page (a card and its JSON-LD record share its own URL) is one listing
    with both readings' values: judged apart, one reading would lose the age, the other the street."""
    merged: dict[str, int] = {}
    listings: list[Listing] = []
    links: list[str | None] = []
    for listing, link in zip(result.listings, result.detail_links, strict=True):
        i = merged.get(listing.url) if listing.url != base_url else None
        if i is None:
            if listing.url != base_url:
                merged[listing.url] = len(listings)
            listings.append(listing)
            links.append(link)
            continue
        old = listings[i]
        values: dict[ExposureKind, tuple[Evidence, ...]] = dict(old.values)
        for kind, evs in listing.values.items():
            known = {e.value for e in values.get(kind, ())}
            values[kind] = tuple(values.get(kind, ())) + tuple(e for e in evs if e.value not in known)
        listings[i] = Listing(
            old.url, old.source_url, values, f"{old.text} | {listing.text}", old.found_by, cut=old.cut | listing.cut
        )
        links[i] = links[i] or link
    result.listings, result.detail_links = listings, links


def merge_detail(listing: Listing, doc: Document, detail: Detail) -> tuple[Listing, bool]:
    """The listing with what its detail page adds, and whether the page read as the person's page (its
    container or one of its fields was found).

    Only the part of the page about the person is scanned for phones, emails and addresses: the
    rule's `container`, else the elements its detail fields name. The whole page would bring in the
    "people also viewed" boxes, whose data belongs to other people.
    """
    doc.strip_invisible()
    prepare(doc)
    extra = read_fields(doc.root, detail.fields)
    containers = (
        [el for el in select(doc.root, detail.container) if not isinstance(el, str)] if detail.container else []
    )
    merged: dict[ExposureKind, tuple[Evidence, ...]] = dict(listing.values)
    for kind, evs in extra.items():
        merged[kind] = tuple(merged.get(kind, ())) + tuple(evs)
    if containers:
        wanted = TEXT_KINDS.difference(merged.keys())
        if wanted:
            for kind, found in read_text(containers[0], wanted).items():
                merged[kind] = tuple(found)
        parts = [node_text(el) for el in containers]
    else:
        parts = [e.snippet for evs in extra.values() for e in evs]
    text = " | ".join([listing.text, *parts])
    read = bool(extra) or bool(containers)
    return replace(listing, values=merged, text=text), read
