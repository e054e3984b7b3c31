"""Page -> listings: records of raw values, read with the rule's selectors and embedded JSON.

Extraction reports what a page shows, as shown; deciding what it means is `match.py`'s job. Links it
finds (detail pages, next page) are returned for the pipeline to fetch through the same site checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import jmespath

from .models import Evidence, ExposureKind, Listing
from .normalize import decode_cfemail
from .parse import Document, load_json, node_text, select
from .rules import Detail, EmbeddedJson, Fields, FieldSpec, Rule

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
MAX_LISTINGS = 500  # per page; a page with more is cut, not parsed without end
MAX_VALUE = 300  # characters kept of one value


@dataclass
class Extraction:
    """What one results page yields: listings, and links still to follow."""

    listings: list[Listing] = field(default_factory=list)
    detail_links: list[str | None] = field(default_factory=list)  # per listing, same order
    next_page: str | None = None


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
    """Every value a field selector yields under node, with the element text as evidence."""
    out: list[Evidence] = []
    for el in select(node, spec.selector):
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


def read_embedded(doc: Document, body_text: str, spec: EmbeddedJson, base_url: str) -> list[Listing]:
    """Listings from JSON in script elements (JSON-LD, __NEXT_DATA__) or from a JSON body."""
    sources = doc.scripts(spec.script) if spec.script else [body_text]
    listings: list[Listing] = []
    for raw in sources:
        data = load_json(raw)
        if data is None:
            continue
        for root in data if isinstance(data, list) and spec.script else [data]:
            try:
                people = jmespath.search(spec.listings, root)
            except jmespath.exceptions.JMESPathError:
                people = None
            if isinstance(people, dict):
                people = [people]
            if not isinstance(people, list):
                continue
            for person in people[:MAX_LISTINGS]:
                if not isinstance(person, dict):
                    continue
                values: dict[ExposureKind, list[Evidence]] = {}
                for key, expr in spec.fields.items():
                    try:
                        found = jmespath.search(expr, person)
                    except jmespath.exceptions.JMESPathError:
                        continue
                    for text in _json_values(found):
                        text = " ".join(text.split())[:MAX_VALUE]
                        if text:
                            values.setdefault(FIELD_KINDS[key], []).append(Evidence(text, f"{key}: {text}"))
                link = jmespath.search(spec.link, person) if spec.link else None
                url = urljoin(base_url, link) if isinstance(link, str) and link else base_url
                text = " | ".join(e.value for vs in values.values() for e in vs)
                listings.append(Listing(url, base_url, {k: tuple(v) for k, v in values.items()}, text))
    return listings


def _link(node: Any, selector: str, base_url: str) -> str | None:
    spec = FieldSpec.model_validate(_shorthand(selector))
    for ev in read_field(node, FieldSpec(selector=spec.selector, attr=spec.attr or "href")):
        if ev.value and not ev.value.startswith("#"):
            return urljoin(base_url, ev.value)
    return None


def _shorthand(v: str) -> dict[str, str]:
    from .rules import _field_spec

    out: dict[str, str] = _field_spec(v)
    return out


def extract(doc: Document, body_text: str, rule: Rule, base_url: str) -> Extraction:
    """Listings on a results page, plus the detail links and the next-page link to follow."""
    ex = rule.extract
    result = Extraction()
    # embedded JSON is read before scripts are stripped from the tree
    if ex.embedded is not None:
        for listing in read_embedded(doc, body_text, ex.embedded, base_url):
            result.listings.append(listing)
            result.detail_links.append(None)
    doc.strip_invisible()
    prepare(doc)
    if ex.listing:
        for el in select(doc.root, ex.listing)[:MAX_LISTINGS]:
            if isinstance(el, str):
                continue
            values = read_fields(el, ex.fields)
            if ex.fields.name is None and ExposureKind.NAME not in values:
                guessed = guess_name(el)
                if guessed:
                    values[ExposureKind.NAME] = [guessed]
            url = (_link(el, ex.link, base_url) if ex.link else None) or base_url
            detail = _link(el, ex.detail.link, base_url) if ex.detail else None
            if detail and url == base_url:
                url = detail
            listing = Listing(url, base_url, {k: tuple(v) for k, v in values.items()}, node_text(el))
            result.listings.append(listing)
            result.detail_links.append(detail)
    if ex.detail is not None:
        result.detail_links = result.detail_links[:]  # the pipeline caps how many it follows
    if ex.next_page is not None:
        result.next_page = _link(doc.root, ex.next_page.selector, base_url)
    return result


def merge_detail(listing: Listing, doc: Document, detail: Detail) -> Listing:
    """The listing with what its detail page adds.

    Only the part of the page about the person is scanned for phones, emails and addresses: the
    rule's `container`, else the elements its detail fields name. The whole page would bring in the
    "people also viewed" boxes, whose data belongs to other people.
    """
    doc.strip_invisible()
    prepare(doc)
    extra = read_fields(doc.root, detail.fields)
    merged: dict[ExposureKind, tuple[Evidence, ...]] = dict(listing.values)
    for kind, evs in extra.items():
        merged[kind] = tuple(merged.get(kind, ())) + tuple(evs)
    if detail.container:
        parts = [node_text(el) for el in select(doc.root, detail.container)]
    else:
        parts = [e.snippet for evs in extra.values() for e in evs]
    text = " | ".join([listing.text, *parts])
    return Listing(listing.url, listing.source_url, merged, text)
