"""Following each removal request to the end: asked, still listed, overdue, gone, back.

Studies of paid removal services found only about a third to a half of listings actually removed after months,
and people say what they miss most is knowing whether an opt-out worked and noticing when a listing returns.
So every request the user records (`exposure optout SITE`) is followed through every later scan of the site it
covers, and of the sister sites the same request covers (the rule's `opt_out.covers`):

- "still listed" while a later scan finds the user there, "overdue" once that lasts longer than the site's
  usual days (`opt_out.days`), 45 days for a CCPA request (Cal. Civ. Code 1798.130) or California's DROP, one
  month for a GDPR one (Art. 12(3));
- "gone" only when a later scan saw the site answer every search that had found the listing, without it
  (`findings.proved_gone`): a site that could not be checked proves nothing, whatever it showed;
- "back" when a listing is found again after it was seen gone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from .findings import finding_id, proved_gone
from .models import Remembered, RemovalNote, SiteResult, Status

CCPA_DAYS = 45  # a business must answer a verified request to delete within 45 days (Cal. Civ. Code 1798.130)
GDPR_DAYS = 30  # "within one month of receipt" (GDPR Art. 12(3)); counted as 30 days here


@dataclass(frozen=True)
class Observation:
    """One site as one scan saw it: what removal tracking walks through, oldest first."""

    scan_id: str
    site_id: str
    checked_at: str
    status: Status
    listed: Mapping[str, Remembered]  # the user's listings on it, by finding id
    result: SiteResult | None  # None for scans migrated from JSON files


class Law(StrEnum):
    """Under which law a request was sent: it sets the deadline."""

    CCPA = "ccpa"
    GDPR = "gdpr"
    GENERIC = "generic"


@dataclass(frozen=True)
class Request:
    """One removal request the user sent."""

    id: int
    site_id: str
    site_name: str
    asked_on: date
    recorded_at: str  # when it was recorded (UTC ISO): a scan later that same day counts as after it
    method: str
    law: str = ""
    request_id: str = ""  # California DROP's request ID, or the site's own reference
    tracked: tuple[str, ...] = ()  # the site and the sister sites the same request covers
    days: int | None = None  # the site's usual days

    @property
    def deadline_days(self) -> int | None:
        """Days after which a listing still there is overdue: the law's, else the site's usual days."""
        if self.law == Law.CCPA or self.method == "drop":
            return CCPA_DAYS
        if self.law == Law.GDPR:
            return GDPR_DAYS
        return self.days

    @property
    def deadline_words(self) -> str:
        if self.law == Law.CCPA or self.method == "drop":
            return f"a CCPA request must be answered within {CCPA_DAYS} days"
        if self.law == Law.GDPR:
            return "a GDPR request must be answered within one month"
        return f"the site usually takes {self.days} days"


class State(StrEnum):
    WAITING = "waiting"  # no scan of the site since the request
    UNKNOWN = "unknown"  # scanned since, but never answered in full
    STILL_LISTED = "still_listed"
    OVERDUE = "overdue"
    GONE = "gone"
    BACK = "back"


@dataclass(frozen=True)
class Removal:
    """Where one request stands on one site it covers."""

    request: Request
    site_id: str
    site_name: str
    state: State
    asked_on: date
    last_checked: date | None  # the last scan of the site since asking (answered or not)
    listed_on: date | None = None  # the last scan that still found the user there
    gone_on: date | None = None  # the first scan that proved the listings gone (in the latest stretch)
    back_on: date | None = None  # the first scan that found the user again after gone

    @property
    def text(self) -> str:
        """In the user's words: "asked on 3 Nov, still listed after 10 days"."""
        asked = f"asked on {day(self.asked_on)}"
        r = self.request
        if self.state is State.WAITING:
            return f"{asked}, not scanned since"
        if self.state is State.UNKNOWN:
            return f"{asked}, could not be checked since (last tried {day(self.last_checked)})"
        if self.state in (State.STILL_LISTED, State.OVERDUE):
            assert self.listed_on is not None
            n = (self.listed_on - self.asked_on).days
            text = f"{asked}, still listed after {n} day{'' if n == 1 else 's'}"
            if self.state is State.OVERDUE:
                text += f": overdue ({r.deadline_words})"
            return text
        if self.state is State.GONE:
            return f"gone, seen on {day(self.gone_on)} ({asked})"
        return f"back on {day(self.back_on)} (gone on {day(self.gone_on)}, {asked})"

    def note(self) -> RemovalNote:
        """For the reports."""
        r = self.request
        return RemovalNote(
            self.site_id,
            self.site_name,
            self.state.value,
            self.text,
            self.asked_on.isoformat(),
            r.site_name,
            r.request_id,
        )


def day(d: date | None, today: date | None = None) -> str:
    """'3 Nov', with the year when it is not this year's."""
    if d is None:
        return "?"
    text = f"{d.day} {d:%b}"
    return text if d.year == (today or date.today()).year else f"{text} {d.year}"


def _when(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def _after(obs: Observation, r: Request) -> bool:
    """Whether a scan of the site came after the request: a later day, or later the same day it was recorded."""
    checked = _when(obs.checked_at)
    if checked.date() != r.asked_on:
        return checked.date() > r.asked_on
    return r.recorded_at != "" and checked > _when(r.recorded_at)


def _seen(obs: Observation) -> set[str]:
    """Every listing the scan saw on the site, the user's or not (a listing we could not confirm is not gone)."""
    if obs.result is None:
        return set(obs.listed)
    return {finding_id(obs.site_id, v) for v in obs.result.verdicts}


def _gone(obs: Observation, targets: Mapping[str, Remembered]) -> bool:
    if obs.listed:
        return False
    if not targets:
        # nothing was known of the listing when the user asked: only a site that answered everything proves it
        return obs.status is Status.NOT_FOUND
    if obs.result is None:
        return False  # an older history's scan kept no searches: it proves nothing
    seen = _seen(obs)
    return all(proved_gone(old, obs.result, fid in seen) for fid, old in targets.items())


def follow(request: Request, site_id: str, site_name: str, observations: Sequence[Observation]) -> Removal:
    """Where the request stands on one site, from every scan of it, oldest first."""
    before = [o for o in observations if not _after(o, request)]
    after = [o for o in observations if _after(o, request)]
    # the listings the request was about: those the last scan before asking found (all of them, if several)
    targets: dict[str, Remembered] = {}
    for o in reversed(before):
        if o.listed:
            targets = dict(o.listed)
            break
    state = State.WAITING if not after else State.UNKNOWN
    listed_on = gone_on = back_on = None
    for o in after:
        on = _when(o.checked_at).date()
        targets = {**targets, **o.listed}  # a listing found later is one the request is about too
        if o.listed:
            if state in (State.GONE, State.BACK):
                if state is State.GONE:
                    back_on = on
                state = State.BACK
            else:
                state = State.STILL_LISTED
            listed_on = on
        elif _gone(o, targets):
            if state is not State.GONE:
                gone_on = on
            state = State.GONE
            back_on = None
    limit = request.deadline_days
    if state is State.STILL_LISTED and limit is not None and listed_on is not None:
        if (listed_on - request.asked_on).days > limit:
            state = State.OVERDUE
    last = _when(after[-1].checked_at).date() if after else None
    return Removal(request, site_id, site_name, state, request.asked_on, last, listed_on, gone_on, back_on)


def follow_all(
    requests: Sequence[Request], observations: Mapping[str, Sequence[Observation]], names: Mapping[str, str]
) -> list[Removal]:
    """Every request on every site it covers. When several requests cover one site, the newest speaks for it."""
    newest: dict[str, Request] = {}
    for r in sorted(requests, key=lambda r: (r.asked_on, r.recorded_at)):
        for site_id in r.tracked or (r.site_id,):
            newest[site_id] = r
    return [
        follow(r, site_id, names.get(site_id, site_id), observations.get(site_id, ()))
        for site_id, r in sorted(newest.items(), key=lambda kv: (kv[1].asked_on, kv[1].site_id != kv[0], kv[0]))
    ]
