"""The catalog as people browse it: which sites there are, which family each belongs to, how to get off each.

A family is a group of sites run by one company or sharing its data, written in rules as a tag ending in
`-network` ("peoplefinders-network"); one opt-out often covers the whole family. `select` is how a scan picks
sites from the catalog by id (`--site`, `--exclude`), and refuses ids that are not in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .rules import Catalog, ManualSite, Rule

Entry = Rule | ManualSite


def family(entry: Entry) -> str:
    """The family of a site ("peoplefinders"), from its `-network` tag; "" when it belongs to none."""
    for tag in entry.tags:
        if tag.endswith("-network"):
            return tag.removesuffix("-network")
    return ""


@dataclass(frozen=True)
class SiteRow:
    """One line of `exposure sites list`, and one object of its JSON."""

    id: str
    name: str
    domain: str
    check: str  # "scan", or "by hand"
    family: str
    parent: str
    tags: tuple[str, ...]
    searches: tuple[str, ...]  # kinds: name, phone, email, address
    california_registry: bool | None
    opt_out_url: str
    opt_out_days: int | None
    covers: tuple[str, ...]
    why_by_hand: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "domain": self.domain,
            "check": self.check,
            "family": self.family,
            "parent": self.parent,
            "tags": list(self.tags),
            "searches": list(self.searches),
            "california_registry": self.california_registry,
            "opt_out": {"url": self.opt_out_url, "days": self.opt_out_days, "covers": list(self.covers)}
            if self.opt_out_url
            else None,
            "why_by_hand": self.why_by_hand,
        }


def row(entry: Entry) -> SiteRow:
    o = entry.opt_out
    if isinstance(entry, Rule):
        check, searches, why = "scan", tuple(dict.fromkeys(s.kind.value for s in entry.searches)), ""
    else:
        check, searches, why = "by hand", (), entry.why
    return SiteRow(
        id=entry.id,
        name=entry.name,
        domain=entry.domain,
        check=check,
        family=family(entry),
        parent=entry.parent,
        tags=tuple(entry.tags),
        searches=searches,
        california_registry=entry.registry.california,
        opt_out_url=o.url if o else "",
        opt_out_days=o.days if o else None,
        covers=tuple(o.covers) if o else (),
        why_by_hand=why,
    )


def rows(catalog: Catalog, *, tags: Sequence[str] = (), families: Sequence[str] = ()) -> list[SiteRow]:
    """Every site of the catalog, sorted by id, keeping those with all the `tags` and any of the `families`."""
    wanted_families = {f.lower().removesuffix("-network") for f in families}
    out = []
    for entry in sorted(entries(catalog), key=lambda e: e.id):
        if tags and not set(tags) <= set(entry.tags):
            continue
        if wanted_families and family(entry) not in wanted_families:
            continue
        out.append(row(entry))
    return out


def entries(catalog: Catalog) -> list[Entry]:
    return [*catalog.rules, *catalog.manual]


def find(catalog: Catalog, site_id: str) -> Entry:
    for entry in entries(catalog):
        if entry.id == site_id:
            return entry
    raise ConfigError("--site", site_id, f"no site {site_id!r} in the catalog (see `exposure sites list`)")


def select(catalog: Catalog, only: Iterable[str] = (), exclude: Iterable[str] = ()) -> Catalog:
    """The catalog narrowed to `only` (when given) minus `exclude`; an id that is in no entry is an error."""
    only, exclude = list(only), list(exclude)
    for site_id in (*only, *exclude):
        find(catalog, site_id)
    keep = set(only) if only else None

    def kept(entry: Entry) -> bool:
        return (keep is None or entry.id in keep) and entry.id not in exclude

    return Catalog(tuple(r for r in catalog.rules if kept(r)), tuple(m for m in catalog.manual if kept(m)))
