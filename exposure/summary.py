"""What a whole scan comes to, decided once: the counts every report shows, the outcome, the exit code.

The outcome is what a person reads first, so it never claims more than the scan established:
- `listed`: at least one site lists the user;
- `not_listed`: every site answered, and none lists the user;
- `not_listed_where_checked`: none of the sites that answered lists the user, but some could not be
  checked, so nothing can be said about those;
- `nothing_checked`: no site answered at all (offline, or every site blocked us), said first.

A kind of data ("home address", "phones") is "not seen" only when every site was checked.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from .models import ExposureKind, Outcome, ScanResult, SiteResult, Status

EXIT_CLEAN, EXIT_LISTED, EXIT_BAD_INPUT, EXIT_UNCHECKED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# Words in a request's detail that mean the machine could not reach the network at all (see fetch.py).
_OFFLINE_WORDS = ("could not be found (DNS)", "no network", "network is unreachable")


class ScanOutcome(StrEnum):
    LISTED = "listed"
    NOT_LISTED = "not_listed"
    NOT_LISTED_WHERE_CHECKED = "not_listed_where_checked"
    NOTHING_CHECKED = "nothing_checked"


def outcome(scan: ScanResult) -> ScanOutcome:
    statuses = [s.status for s in scan.sites]
    if Status.FOUND in statuses:
        return ScanOutcome.LISTED
    if Status.NOT_FOUND not in statuses and statuses:
        return ScanOutcome.NOTHING_CHECKED
    if Status.COULD_NOT_CHECK in statuses:
        return ScanOutcome.NOT_LISTED_WHERE_CHECKED
    return ScanOutcome.NOT_LISTED


def exit_code(scan: ScanResult) -> int:
    """0 only when every site answered and none lists the user; 1 listed; 3 not found where checked but some
    sites could not be checked (or none could); 130 interrupted."""
    if scan.interrupted:
        return EXIT_INTERRUPTED
    return {
        ScanOutcome.LISTED: EXIT_LISTED,
        ScanOutcome.NOT_LISTED: EXIT_CLEAN,
        ScanOutcome.NOT_LISTED_WHERE_CHECKED: EXIT_UNCHECKED,
        ScanOutcome.NOTHING_CHECKED: EXIT_UNCHECKED,
    }[outcome(scan)]


def likely_cause(scan: ScanResult) -> str:
    """Why nothing could be checked, when the sites' answers say: "offline", "blocked", or ""."""
    unchecked = [s for s in scan.sites if s.status is Status.COULD_NOT_CHECK]
    if not unchecked or len(unchecked) != len(scan.sites):
        return ""
    if all(_offline(s) for s in unchecked):
        return "offline"
    if all(s.reason in (Outcome.BLOCKED, Outcome.RATE_LIMITED) for s in unchecked):
        return "blocked"
    return ""


def _offline(s: SiteResult) -> bool:
    failures = [q for q in s.queries if q.outcome is Outcome.ERROR]
    texts = [q.detail for q in failures] or [s.detail]
    return bool(texts) and all(any(w in t for w in _OFFLINE_WORDS) for t in texts)


def exposed_kinds(s: SiteResult) -> set[ExposureKind]:
    """The kinds of the user's data a site shows: every value of a listing that is the user, and the user's
    own values on a listing under another name."""
    if s.status is not Status.FOUND:
        return set()
    return {e.kind for v in s.user_listings for e in v.exposed if e.matches_profile or v.is_user}


def counts(scan: ScanResult) -> dict[str, Any]:
    """The numbers a person reads first; every report format shows exactly these."""
    kinds: dict[str, int] = {}
    for s in scan.sites:
        for k in exposed_kinds(s):
            kinds[k.value] = kinds.get(k.value, 0) + 1
    found = sum(s.status is Status.FOUND for s in scan.sites)
    not_found = sum(s.status is Status.NOT_FOUND for s in scan.sites)
    return {
        "outcome": outcome(scan).value,
        "likely_cause": likely_cause(scan),
        # kept for schema_version 1 readers: the number of sites in the scan, checked or not
        "sites_checked": len(scan.sites),
        "sites": len(scan.sites),
        "answered": found + not_found,  # sites that gave an answer we could read: checked
        "found": found,
        "not_found": not_found,
        "could_not_check": sum(s.status is Status.COULD_NOT_CHECK for s in scan.sites),
        "by_hand": len(scan.by_hand),
        "listings": sum(len(s.user_listings) for s in scan.sites),
        "unconfirmed": sum(len(s.unconfirmed) for s in scan.sites),
        "namesakes": sum(len(s.namesakes) for s in scan.sites),
        "exposed_kinds": dict(sorted(kinds.items())),
        # a kind is "not seen" only when every site was checked: otherwise nothing is known of the rest
        "all_checked": found + not_found == len(scan.sites),
    }


DROP_URL = "https://privacy.ca.gov/drop/"


def california_drop(scan: ScanResult) -> dict[str, Any] | None:
    """For a person with a California address: California's one-request deletion platform (DROP), which the
    state runs for every registered data broker, and which of this scan's sites it does and does not reach.

    DROP has taken requests since 2026-01-01; since 2026-08-01 registered brokers must process them every 45
    days. It does not reach brokers missing from the registry, nor public records.
    """
    if "CA" not in scan.profile_states:
        return None
    listed = [s for s in scan.sites if s.status is Status.FOUND]
    return {
        "url": DROP_URL,
        "registered_listing_you": [s.site.id for s in listed if s.site.california_registry],
        "not_registered_listing_you": [s.site.id for s in listed if not s.site.california_registry],
        "registered_in_scan": sum(bool(s.site.california_registry) for s in scan.sites)
        + sum(bool(b.site.california_registry) for b in scan.by_hand),
    }


def headline(scan: ScanResult) -> str:
    """The first sentence of every report, in the user's words."""
    c = counts(scan)
    n, answered, unchecked = c["sites"], c["answered"], c["could_not_check"]
    o = ScanOutcome(c["outcome"])
    if o is ScanOutcome.LISTED:
        return f"You are listed on {c['found']} of the {n} {_sites(n)} in this scan."
    if o is ScanOutcome.NOTHING_CHECKED:
        cause = {
            "offline": " This computer seems to be offline: no site's address could be found. Connect and scan again.",
            "blocked": " Every site blocked our automatic check or asked us to slow down: look at them by hand, "
            "or scan again later.",
        }.get(c["likely_cause"], " Look at them by hand, or scan again later.")
        return f"None of the {n} {_sites(n)} could be checked, so we cannot say whether they list you.{cause}"
    if o is ScanOutcome.NOT_LISTED_WHERE_CHECKED:
        those = "that one" if answered == 1 else f"those {answered}"
        return (
            f"Checked {answered} of {n} {_sites(n)}: not listed on {those}. "
            f"{unchecked} could not be checked: look at {'it' if unchecked == 1 else 'them'} by hand."
        )
    return f"We did not find you on any of the {n} {_sites(n)} in this scan: every one of them answered."


def _sites(n: int) -> str:
    return "site" if n == 1 else "sites"
