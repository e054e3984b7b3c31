"""The rule format: one TOML file per site, validated at load with errors naming file, key and line.

A rule is data only: how to search the site, how to recognise its pages, how to read listings, and
how to opt out. `rules/README.md` documents every key; `schema()` gives the JSON Schema.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .domains import is_public_suffix, normalize_domain, url_problem
from .errors import RuleError
from .models import ByHand, OptOut, QueryKind, SiteInfo
from .tomlfile import line_of, raise_invalid, read_toml

# The catalog ships inside the package, so a wheel or pipx install has every site.
BUNDLED_RULES = Path(__file__).resolve().parent / "catalog"

# Variables a search template may use, per search kind. Location variables come from the
# profile's addresses and make a name search run once per place.
NAME_VARS = {"first", "middle", "middle_initial", "last", "full"}
LOCATION_VARS = {"city", "state", "zip"}
PHONE_VARS = {"phone", "phone_area", "phone_exchange", "phone_line", "phone_e164"}
EMAIL_VARS = {"email", "email_user", "email_domain"}
# street_line is the street with its unit as sites key it ("1580 Story Rd Apt 12B"); unit_full the unit with
# its designator ("Apt 12B")
ADDRESS_VARS = {"street", "street_line", "house", "street_name", "unit", "unit_full", "city", "state", "zip"}
VARS_BY_KIND: dict[QueryKind, set[str]] = {
    QueryKind.NAME: NAME_VARS | LOCATION_VARS,
    QueryKind.PHONE: PHONE_VARS,
    QueryKind.EMAIL: EMAIL_VARS,
    QueryKind.ADDRESS: ADDRESS_VARS,
}
FILTERS = {"lower", "upper", "title", "slug", "urlencode", "state_full", "digits", "raw"}
ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# An asset host is one host name (or IPv4 address), optionally with a port: no scheme, path or wildcard.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
ASSET_HOST_RE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*(?::\d{{1,5}})?$")
MAX_ASSET_HOSTS = 20


def check_asset_host(v: str) -> str:
    """One host a browser rule's pages may also load from, checked so it cannot widen the pin to a whole
    suffix or to anything other than one host."""
    host = v.strip().lower()
    if len(host) > 260 or not ASSET_HOST_RE.match(host):
        raise ValueError(f"asset host {v!r} must be a host name, optionally with :port (no scheme, path or *)")
    name, _, port = host.partition(":")
    if port and not 0 < int(port) < 65536:
        raise ValueError(f"asset host {v!r} has no valid port")
    if is_public_suffix(name):
        raise ValueError(f"asset host {v!r} is a public suffix: it would allow every site under it")
    return host


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


MAX_PATTERN = 512  # characters of one rule regex: a rule is data, not a program


def check_selector(v: str | None) -> str | None:
    """Compile a CSS or XPath selector now, so a bad one is an error naming its key, not a crashed scan."""
    if v is not None:
        from .parse import SelectorError, compile_selector

        try:
            compile_selector(v)
            compile_selector(v, relative=True)
        except SelectorError as exc:
            raise ValueError(str(exc)) from None
    return v


def check_pattern(v: str) -> str:
    """A rule regex: bounded in length and compiled now; it runs with a time limit (see classify.py)."""
    import regex

    if len(v) > MAX_PATTERN:
        raise ValueError(f"regex longer than {MAX_PATTERN} characters")
    try:
        regex.compile(v)
    except regex.error as exc:
        raise ValueError(f"invalid regex {v!r}: {exc}") from None
    return v


def check_jmespath(v: str) -> str:
    import jmespath

    try:
        jmespath.compile(v)
    except jmespath.exceptions.JMESPathError as exc:
        raise ValueError(f"invalid JMESPath {v!r}: {' '.join(str(exc).split())}") from None
    return v


def check_http_url(v: str, what: str) -> str:
    """An absolute http(s) URL that parses, or ValueError."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(v.strip())
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ValueError(f"{what} {v!r} does not parse ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} {v!r} must be an http(s) URL with a host")
    return v.strip()


def template_fields(template: str) -> list[tuple[str, list[str]]]:
    """The `{var|filter:arg}` placeholders of a URL template, as (variable, filters)."""
    out = []
    for _, name, spec, _ in string.Formatter().parse(template):
        if name is None:
            continue
        if spec:  # "{full|slug:_}": the formatter takes ":_" for a format spec; it is the filter's argument
            name = f"{name}:{spec}"
        var, *filters = name.split("|")
        out.append((var.strip(), [f.strip() for f in filters]))
    return out


class Search(_Strict):
    """One way to search the site: a URL template filled from the profile."""

    kind: QueryKind
    url: str
    method: Literal["GET"] = "GET"
    # For name searches whose URL has a place in it: also search without a place, with this URL.
    url_without_location: str | None = None

    @model_validator(mode="after")
    def _check_template(self) -> Search:
        for template in filter(None, (self.url, self.url_without_location)):
            head = template.split("{", 1)[0]
            if "://" not in head or "/" not in head.split("://", 1)[1]:
                raise ValueError(f"{template!r}: scheme and host must be literal, before any {{...}}")
            try:
                fields = template_fields(template)
            except ValueError as exc:
                raise ValueError(f"{template!r}: {exc}") from exc
            allowed = VARS_BY_KIND[self.kind]
            for var, filters in fields:
                if var not in allowed:
                    raise ValueError(
                        f"{template!r}: {{{var}}} is not available to a {self.kind} search "
                        f"(use one of {', '.join(sorted(allowed))})"
                    )
                for f in filters:
                    if f.split(":", 1)[0] not in FILTERS:
                        raise ValueError(
                            f"{template!r}: unknown transform {f!r} (use one of {', '.join(sorted(FILTERS))})"
                        )
        if self.url_without_location is not None:
            used = {v for v, _ in template_fields(self.url_without_location)}
            if used & LOCATION_VARS:
                raise ValueError("url_without_location must not use city, state or zip")
        return self

    @property
    def uses_location(self) -> bool:
        return bool({v for v, _ in template_fields(self.url)} & LOCATION_VARS)


def check_id(v: str) -> str:
    if not ID_RE.match(v):
        raise ValueError("id must be lower-case letters, digits, '.', '_' or '-'")
    return v


class PageMatcher(_Strict):
    """What a kind of page looks like. Every condition given must hold; a list of matchers is OR."""

    status: list[int] = []
    final_url: str | None = None  # regex searched in the URL after redirects
    selector: str | None = None  # CSS, or XPath when it starts with "/" or "(" or "./"
    text: list[str] = []  # any of these, case-insensitive, in the page's visible text
    title: list[str] = []  # any of these, case-insensitive, in <title>
    header: dict[str, str] = {}  # header name -> regex on its value

    @field_validator("final_url")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        return check_pattern(v) if v is not None else v

    @field_validator("header")
    @classmethod
    def _header_regexes(cls, v: dict[str, str]) -> dict[str, str]:
        for pattern in v.values():
            check_pattern(pattern)
        return {k.lower(): p for k, p in v.items()}

    _selector = field_validator("selector")(check_selector)

    @model_validator(mode="after")
    def _not_empty(self) -> PageMatcher:
        if not (self.status or self.final_url or self.selector or self.text or self.title or self.header):
            raise ValueError("a page matcher needs at least one of status, final_url, selector, text, title, header")
        return self


class Pages(_Strict):
    """How to tell the site's pages apart. Results are also recognised by listings being found."""

    results: list[PageMatcher] = []
    no_results: list[PageMatcher] = Field(min_length=1)
    blocked: list[PageMatcher] = []


class FieldSpec(_Strict):
    """Where one value sits: a selector, optionally an attribute, and text to cut around."""

    selector: str
    attr: str | None = None
    after: str | None = None  # keep the text after this marker ("Age:")
    before: str | None = None  # and before this one
    split: str | None = None  # one element holds several values separated by this

    _selector = field_validator("selector")(check_selector)


def _field_spec(v: Any) -> Any:
    # "css" or "css@attr" is shorthand for {selector = "css", attr = "attr"}
    if isinstance(v, str):
        selector, at, attr = v.rpartition("@")
        if at and attr and re.fullmatch(r"[A-Za-z_:][-A-Za-z0-9_:.]*", attr) and not selector.endswith("/"):
            return {"selector": selector, "attr": attr}
        return {"selector": v}
    return v


class Fields(_Strict):
    """Per-field selectors, relative to a listing (or to the detail page)."""

    name: FieldSpec | None = None
    age: FieldSpec | None = None
    location: FieldSpec | None = None
    addresses: FieldSpec | None = None
    phones: FieldSpec | None = None
    emails: FieldSpec | None = None
    relatives: FieldSpec | None = None
    aliases: FieldSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: _field_spec(v) for k, v in data.items()}
        return data

    def items(self) -> Iterable[tuple[str, FieldSpec]]:
        for key in type(self).model_fields:
            spec = getattr(self, key)
            if spec is not None:
                yield key, spec


FIELD_NAMES = tuple(Fields.model_fields)


class ListingFields(Fields):
    """Fields read inside one listing: an XPath must be relative to the listing, or it reads the whole page."""

    @field_validator(*FIELD_NAMES)
    @classmethod
    def _relative(cls, spec: FieldSpec | None) -> FieldSpec | None:
        if spec is not None and spec.selector.lstrip().lstrip("(").lstrip().startswith("/"):
            raise ValueError(
                f"XPath {spec.selector!r} starts at the document root; inside a listing write it relative "
                "to the listing (.//...)"
            )
        return spec


class EmbeddedJson(_Strict):
    """Listings embedded as JSON (JSON-LD, an application/json script, or a JSON body)."""

    script: str | None = None  # selector of the <script>; omit when the whole body is JSON
    listings: str  # JMESPath to the list of people
    fields: dict[str, str]  # field -> JMESPath relative to one person
    link: str | None = None  # JMESPath to the person's own page URL

    @field_validator("fields")
    @classmethod
    def _known(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = set(v) - set(Fields.model_fields)
        if unknown:
            raise ValueError(f"unknown field(s) {sorted(unknown)}; use {sorted(Fields.model_fields)}")
        for expr in v.values():
            check_jmespath(expr)
        return v

    _listings = field_validator("listings", "link")(lambda v: check_jmespath(v) if v is not None else v)
    _script = field_validator("script")(check_selector)


def _check_link_selector(v: str | None) -> str | None:
    if v is not None:
        spec = _field_spec(v)
        check_selector(spec["selector"] if isinstance(spec, dict) else v)
    return v


class Detail(_Strict):
    """One hop to each listing's own page, read with these selectors."""

    link: str  # selector of the link inside the listing ("a.details@href" or {selector, attr})
    fields: Fields = Fields()
    # the part of the detail page about the person, scanned for phones, emails and addresses no field
    # names; without it only the fields' own elements are scanned (never "people also viewed" boxes)
    container: str | None = None
    max_listings: int = Field(default=10, ge=1, le=50)

    _link = field_validator("link")(_check_link_selector)
    _container = field_validator("container")(check_selector)


class NextPage(_Strict):
    """Following the site's next-page link."""

    selector: str  # the link ("a.next" reads href)
    max_pages: int = Field(default=3, ge=1, le=20)

    _selector = field_validator("selector")(_check_link_selector)


class Extract(_Strict):
    """How to read listings from a results page."""

    listing: str | None = None
    fields: ListingFields = ListingFields()
    link: str | None = None  # the listing's own URL, when there is no detail hop
    detail: Detail | None = None
    next_page: NextPage | None = None
    embedded: EmbeddedJson | None = None
    # fields every listing of the site shows: a results page where most listings lack one of them no longer
    # looks like this rule, and is "could not check" rather than read half-blind
    expect: list[str] = []

    _listing = field_validator("listing")(check_selector)
    _link = field_validator("link")(_check_link_selector)

    @field_validator("expect")
    @classmethod
    def _expect_known(cls, v: list[str]) -> list[str]:
        unknown = [f for f in v if f not in FIELD_NAMES]
        if unknown:
            raise ValueError(f"unknown field(s) {unknown} in expect; use {list(FIELD_NAMES)}")
        return list(dict.fromkeys(v))

    @model_validator(mode="after")
    def _has_a_source(self) -> Extract:
        if not self.listing and not self.embedded:
            raise ValueError("extract needs a listing selector, an embedded section, or both")
        return self


class OptOutRule(_Strict):
    url: str
    method: str = "web form"
    requires: list[str] = []
    steps: str = ""
    days: int | None = Field(default=None, ge=0, le=365)
    covers: list[str] = []  # sister sites the same opt-out removes from

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_http_url(v, "opt-out URL")


class Registry(_Strict):
    """Which public data broker registries list the company behind the site."""

    california: bool | None = None  # in California's data broker registry (None: not known)
    california_name: str = ""  # the name it is registered under, when it differs from the site's


class Source(_Strict):
    """Where this rule's facts came from, and when they were checked: selectors go stale."""

    urls: list[str] = []
    checked: str = ""
    notes: str = ""


class Rule(_Strict):
    """One people-search site."""

    id: str
    name: str
    domain: str
    category: str = "people-search"
    parent: str = ""
    sister_sites: list[str] = []
    tags: list[str] = []
    manual_url: str = ""  # a page where a person can search by hand
    source: Source = Source()
    searches: list[Search] = Field(min_length=1)
    pages: Pages
    extract: Extract
    opt_out: OptOutRule | None = None
    registry: Registry = Registry()
    delay: float = Field(default=0.5, ge=0, le=60)  # seconds between two requests to this site
    concurrency: int = Field(default=2, ge=1, le=8)
    # "browser": load the searches in a real browser (sites that render their listings with JavaScript)
    engine: Literal["http", "browser"] = "http"
    # other hosts the browser engine may load the site's scripts, styles and check page from (exact hosts)
    asset_hosts: list[str] = Field(default=[], max_length=MAX_ASSET_HOSTS)
    # keep cookies the site sets for later requests to it (never to any other site); off unless a site needs it
    cookies: bool = False

    _id = field_validator("id")(lambda v: check_id(v))

    @field_validator("asset_hosts")
    @classmethod
    def _asset_hosts(cls, v: list[str]) -> list[str]:
        return [check_asset_host(h) for h in v]

    @model_validator(mode="after")
    def _same_site(self) -> Rule:
        normalize_domain(self.domain)
        if self.asset_hosts and self.engine != "browser":
            raise ValueError('asset_hosts is only used with engine = "browser"')
        for search in self.searches:
            for template in filter(None, (search.url, search.url_without_location)):
                probe = template.split("{", 1)[0]
                problem = url_problem(probe, self.domain)
                if problem:
                    raise ValueError(f"search URL {template!r}: {problem}")
        if self.manual_url:
            check_http_url(self.manual_url, "manual_url")
            if url_problem(self.manual_url, self.domain):
                raise ValueError(f"manual_url {self.manual_url!r} is outside the rule's domain")
        return self

    @cached_property
    def site_key(self) -> str:
        return normalize_domain(self.domain)

    @cached_property
    def reads_code(self) -> bool:
        """Whether any part of the rule looks into <script> or <style> elements: then pages are parsed with
        them; otherwise they are dropped before parsing, which is much of the analysis time saved."""
        if self.extract.embedded is not None:
            return True
        matchers = [*self.pages.results, *self.pages.no_results, *self.pages.blocked]
        return any(m.selector and re.search(r"script|style", m.selector, re.I) for m in matchers)

    def info(self) -> SiteInfo:
        return SiteInfo(
            id=self.id,
            name=self.name,
            domain=self.domain,
            category=self.category,
            parent=self.parent,
            sister_sites=tuple(self.sister_sites),
            manual_url=self.manual_url,
            california_registry=self.registry.california,
        )

    def opt_out_info(self) -> OptOut | None:
        if self.opt_out is None:
            return None
        o = self.opt_out
        return OptOut(o.url, o.method, tuple(o.requires), o.steps, o.days, tuple(o.covers))


class ManualSite(_Strict):
    """A site that cannot be checked automatically (no free search URL, results only behind a paywall or a
    sign-up funnel that answers the same for everyone): the report lists it under "check by hand" with its
    search page and opt-out facts, and it is never counted as checked."""

    id: str
    name: str
    domain: str
    check: Literal["by_hand"]
    category: str = "people-search"
    parent: str = ""
    sister_sites: list[str] = []
    tags: list[str] = []
    manual_url: str  # where a person can search by hand
    why: str = ""  # why it cannot be checked automatically, in the user's words
    source: Source = Source()
    opt_out: OptOutRule
    registry: Registry = Registry()

    _id = field_validator("id")(lambda v: check_id(v))

    @model_validator(mode="after")
    def _same_site(self) -> ManualSite:
        normalize_domain(self.domain)
        check_http_url(self.manual_url, "manual_url")
        if url_problem(self.manual_url, self.domain):
            raise ValueError(f"manual_url {self.manual_url!r} is outside the site's domain")
        return self

    def info(self) -> SiteInfo:
        return SiteInfo(
            id=self.id,
            name=self.name,
            domain=self.domain,
            category=self.category,
            parent=self.parent,
            sister_sites=tuple(self.sister_sites),
            manual_url=self.manual_url,
            california_registry=self.registry.california,
        )

    def opt_out_info(self) -> OptOut:
        o = self.opt_out
        return OptOut(o.url, o.method, tuple(o.requires), o.steps, o.days, tuple(o.covers))

    def by_hand(self) -> ByHand:
        return ByHand(self.info(), self.opt_out_info(), self.why)


def load_entry(path: Path) -> Rule | ManualSite:
    """Read and validate one catalog file (a rule, or a by-hand entry); raise RuleError naming the file,
    key and line."""
    text, data = read_toml(path, RuleError)
    model: type[Rule] | type[ManualSite] = ManualSite if data.get("check") == "by_hand" else Rule
    try:
        entry = model.model_validate(data)
    except ValidationError as exc:
        raise_invalid(path, text, exc, RuleError, "key")
    except RecursionError as exc:
        raise RuleError(path, "", "arrays or inline tables are nested too deeply") from exc
    if entry.id != path.stem:
        raise RuleError(
            path,
            f"line {line_of(text, ('id',)) or 1}: key id",
            f"id {entry.id!r} must equal the file name {path.stem!r}",
        )
    return entry


def load_rule(path: Path) -> Rule:
    """Read and validate one rule file; raise RuleError naming the file, key and line."""
    entry = load_entry(path)
    if not isinstance(entry, Rule):
        raise RuleError(path, "key check", "a by-hand entry, not a rule that can be scanned")
    return entry


@dataclass(frozen=True)
class Catalog:
    """The sites of a scan: rules to scan, and sites to check by hand."""

    rules: tuple[Rule, ...]
    manual: tuple[ManualSite, ...] = ()

    def __len__(self) -> int:
        return len(self.rules) + len(self.manual)


def load_catalog(folders: Sequence[Path]) -> Catalog:
    """Every `*.toml` entry in the folders, sorted by id; duplicate ids are an error."""
    entries: dict[str, Rule | ManualSite] = {}
    for folder in folders:
        if not folder.is_dir():
            raise RuleError(folder, "", "not a folder of rule files")
        for path in sorted(folder.glob("*.toml")):
            entry = load_entry(path)
            if entry.id in entries:
                raise RuleError(path, "key id", f"id {entry.id!r} is defined twice")
            entries[entry.id] = entry
    ordered = [entries[k] for k in sorted(entries)]
    return Catalog(
        tuple(e for e in ordered if isinstance(e, Rule)), tuple(e for e in ordered if isinstance(e, ManualSite))
    )


def load_rules(folders: Sequence[Path]) -> list[Rule]:
    """Every rule that can be scanned in the folders, sorted by id (by-hand entries left out)."""
    return list(load_catalog(folders).rules)


def schema() -> dict[str, Any]:
    """The JSON Schema of a rule file, for editors and for the rules README."""
    return Rule.model_json_schema()
