"""The typed values that flow between pipeline stages.

Rule data (validated pydantic models in `rules.py`) and runtime state (these frozen dataclasses)
never share a model: a stage takes one of these and returns another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from operator import attrgetter
from typing import Any, TypeVar

_T = TypeVar("_T")


def _pickled_by_fields(cls: type[_T]) -> type[_T]:
    """Pickles a frozen slotted dataclass as its constructor's arguments. The `__getstate__`/`__setstate__` that
    dataclasses gives slotted classes calls `fields()` for every object, which doubled the cost of unpickling the
    readings the analysis workers send back (thousands of them per scan); instances without slots would cost
    memory instead (a thousand sites' results kept about 12 MB more)."""
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    # attrgetter reads every field in C: a generator of getattr calls was most of the cost of pickling them
    values = attrgetter(*names) if len(names) > 1 else (lambda self: (getattr(self, names[0]),))

    def __reduce__(self: Any) -> tuple[Any, tuple[Any, ...]]:
        return (cls, values(self))

    cls.__reduce__ = __reduce__  # type: ignore[method-assign]
    return cls


class _Enum(StrEnum):
    """An enum that pickles by name, read back with one attribute lookup: a worker's answer holds hundreds of
    them, and the default (calling the enum class with the value) was the costliest part of unpickling it."""

    def __reduce_ex__(self, protocol: object) -> tuple[object, ...]:
        return (getattr, (type(self), self.name))


class QueryKind(_Enum):
    """Which profile identifier a search is keyed on."""

    NAME = "name"
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"


class Outcome(_Enum):
    """What one fetched page turned out to be. Only RESULTS and NO_RESULTS are answers from the site."""

    RESULTS = "results"
    NO_RESULTS = "no_results"
    BLOCKED = "blocked"
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    ERROR = "error"
    UNRECOGNIZED = "unrecognized"
    # reasons a site was not (fully) checked that no page caused
    INTERRUPTED = "interrupted"  # the user stopped the scan
    SKIPPED = "skipped"  # the profile has nothing this site can be searched by, or a cap cut the reading short
    # a listing with the user's name that nothing confirms and nothing rules out: the person must look
    UNCONFIRMED = "unconfirmed"


# Outcomes that are the site's own answer; everything else means "we could not check".
ANSWERED = frozenset({Outcome.RESULTS, Outcome.NO_RESULTS})


class Status(_Enum):
    """A site's verdict for the whole scan."""

    FOUND = "found"
    NOT_FOUND = "not_found"
    COULD_NOT_CHECK = "could_not_check"


class ExposureKind(_Enum):
    """The kinds of personal data a listing can expose."""

    NAME = "name"
    ALIAS = "alias"
    AGE = "age"
    LOCATION = "location"
    ADDRESS = "address"
    PHONE = "phone"
    EMAIL = "email"
    RELATIVE = "relative"


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Query:
    """One concrete request to one site, built from the profile and the site's rule."""

    site_id: str
    kind: QueryKind
    url: str
    label: str  # what was searched, in the user's words ("name: Jane Doe in IL")
    method: str = "GET"


@dataclass(frozen=True)
class Page:
    """A fetched page, or why it could not be fetched (`failure` set, body usually empty)."""

    url: str  # what we asked for
    final_url: str  # where redirects ended
    status: int | None
    headers: Mapping[str, str]
    body: bytes
    text: str
    content_type: str
    failure: Outcome | None = None  # TIMEOUT, ERROR, RATE_LIMITED, BLOCKED when fetch already knows
    detail: str = ""  # why, in plain words, for failures
    elapsed: float = 0.0
    raw: str = ""  # the technical cause (exception and message), kept for the JSON report only
    # content codings still to undo ("gzip"): the fetcher may hand over the body as it came off the wire and
    # leave the bounded decoding to the analysis stage, off the event loop (fetch.decode_page)
    encoded: str = ""
    fetched_at: str = ""  # when the answer arrived, UTC ("2026-11-21T09:30:02Z"): evidence needs the time
    # browser engine: the other hosts ("host:port") the page tried to reach while it loaded, all refused
    refused: tuple[str, ...] = ()


@dataclass(frozen=True)
class SitePages:
    """The fetched pages behind one site's listings of the user (results and detail pages), handed over once as
    the site finishes so evidence can keep them; the scan itself never returns pages, so a long scan does not
    hold every page it read in memory past its end."""

    site_id: str
    pages: tuple[Page, ...]


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Classification:
    """What a page is, and why we think so."""

    outcome: Outcome
    detail: str = ""  # "Cloudflare challenge", "no-results selector #notfound matched", ...
    raw: str = ""  # the technical cause of a failure (an exception's class), for the JSON report only


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Evidence:
    """A value as the page shows it, with the piece of page text it came from."""

    value: str
    snippet: str


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Listing:
    """One record a site shows about one person: raw values per kind, as found on the page."""

    url: str  # the listing's own page when it has one, else the results page
    source_url: str  # the results page it was found on
    values: Mapping[ExposureKind, tuple[Evidence, ...]]
    text: str = ""  # the listing's visible text, for scanning identifiers no selector names
    # URLs of the searches that brought this listing up: history calls a listing gone only when one of
    # these searches was answered again without it
    found_by: tuple[str, ...] = ()
    # why the listing could not be read in full (its detail page was a block page, ...): such a listing is
    # never ruled out, only confirmed
    unread: str = ""
    # kinds whose list the page cut short ("Used to live in Evanston IL, Chicago IL, Peori..."): what is not
    # shown may be the user's, so what is shown of them never contradicts the profile
    cut: frozenset[ExposureKind] = frozenset()


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Exposure:
    """One value a listing publishes, and whether it is one of the user's own."""

    kind: ExposureKind
    value: str
    matches_profile: bool
    evidence: str = ""
    partial: bool = False  # masked on the page ("(217) 348-XXXX"): never a full match
    profile_index: int | None = None  # which of the profile's addresses it is (0: the current one)


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a listing is the user, a namesake, or unrelated, with reasons a person can check."""

    listing: Listing
    is_user: bool
    namesake: bool  # carries the user's name, but something on it contradicts the profile
    confidence: float
    reasons: tuple[str, ...]
    exposed: tuple[Exposure, ...]
    identifier_exposed: bool = False  # another name, but shows one of the user's phones/emails/addresses
    ignored: bool = False  # the user said "not me"
    # carries the user's name, and nothing on it confirms or contradicts that it is them: the user must look
    unconfirmed: bool = False


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class QueryRecord:
    """What happened to one query."""

    query: Query
    outcome: Outcome
    http_status: int | None
    detail: str = ""
    final_url: str = ""
    raw: str = ""  # the technical cause of a failure, for the JSON report


@dataclass(frozen=True)
class OptOut:
    """How to get a listing removed from a site."""

    url: str
    method: str
    requires: tuple[str, ...]
    steps: str
    days: int | None = None
    covers: tuple[str, ...] = ()  # sister sites the same opt-out removes from


@dataclass(frozen=True)
class SiteInfo:
    """What the report needs to know about a site, taken from its rule."""

    id: str
    name: str
    domain: str
    category: str = "people-search"
    parent: str = ""
    sister_sites: tuple[str, ...] = ()
    manual_url: str = ""  # where a person can search by hand
    california_registry: bool | None = None  # in California's data broker registry (None: not known)


@dataclass(frozen=True)
class ByHand:
    """A site in the catalog that cannot be checked automatically: the person searches it themselves."""

    site: SiteInfo
    opt_out: OptOut | None
    why: str = ""


@dataclass(frozen=True)
class SiteResult:
    """The verdict for one site and everything that led to it."""

    site: SiteInfo
    status: Status
    reason: Outcome | None
    detail: str
    queries: tuple[QueryRecord, ...]
    verdicts: tuple[Verdict, ...]
    opt_out: OptOut | None
    interrupted: bool = False
    raw_detail: str = ""  # the technical cause when the site's handling failed, for the JSON report only

    @property
    def user_listings(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if (v.is_user or v.identifier_exposed) and not v.ignored)

    @property
    def namesakes(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.namesake and not v.is_user and not v.ignored)

    @property
    def unconfirmed(self) -> tuple[Verdict, ...]:
        """Listings with the user's name that we could neither confirm nor rule out: "check these yourself"."""
        return tuple(
            v for v in self.verdicts if v.unconfirmed and not v.is_user and not v.identifier_exposed and not v.ignored
        )


@dataclass(frozen=True)
class Remembered:
    """What history keeps of one listing of the user."""

    site_id: str
    site_name: str
    url: str
    found_by: tuple[str, ...] = ()  # the searches (their URLs) that found it


@dataclass(frozen=True)
class ScanDiff:
    """How this scan differs from the previous one."""

    previous_scan: str
    previous_finished_at: str
    new: tuple[str, ...]  # finding ids listed now and not before
    gone: tuple[str, ...]  # listed before, and the site now answered without them: an opt-out may have worked
    still_listed: tuple[str, ...]
    unknown: tuple[str, ...]  # listed before, but the site could not be checked this time
    gone_details: Mapping[str, Remembered]


@dataclass(frozen=True)
class RemovalNote:
    """Where one removal request stands on one site, as the reports show it ("asked on 3 Nov, still listed
    after 10 days"). `requested_from` is the site the request went to: another one when a sister site's
    opt-out covers this site."""

    site_id: str
    site_name: str
    state: str  # waiting | unknown | still_listed | overdue | gone | back
    text: str
    asked_on: str  # YYYY-MM-DD
    requested_from: str
    request_id: str = ""


@dataclass(frozen=True, repr=False)
class ScanResult:
    """A whole scan: the unit written to reports and history."""

    id: str
    started_at: str
    finished_at: str
    sites: tuple[SiteResult, ...]
    interrupted: bool = False
    profile_label: str = ""  # the profile's name, shown in the report header
    tool_version: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)
    changes: ScanDiff | None = None  # against the previous scan in the history, when there is one
    by_hand: tuple[ByHand, ...] = ()  # catalog sites that cannot be checked automatically: never counted as checked
    profile_states: tuple[str, ...] = ()  # the states of the profile's addresses: which state laws apply
    removals: tuple[RemovalNote, ...] = ()  # the user's removal requests, followed up by this scan

    def __repr__(self) -> str:
        # short on purpose: asyncio's runner writes the repr of the task that returned a scan when it exits,
        # and the full repr of a thousand sites' results took half a second
        return f"ScanResult(id={self.id!r}, sites={len(self.sites)}, interrupted={self.interrupted})"
