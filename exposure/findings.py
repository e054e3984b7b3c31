"""Stable identities for findings, and what changed since an earlier scan.

A finding's id leaves out everything that changes between runs (time, confidence, wording of reasons,
the order of listings), so the same listing found again has the same id and a listing that is no longer
there can be told apart from one we could not check this time. Like detect-secrets' baselines, the id is
a hash: it says "this listing" without repeating the user's data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Mapping

from .models import ANSWERED, Listing, Outcome, Remembered, ScanDiff, ScanResult, SiteResult, Status, Verdict


def listing_identity(listing: Listing) -> Hashable:
    """What identifies a listing within its site: its own page, or, for a row without one (a table row),
    everything it shows. The same row found by name and by phone is the same listing."""
    if listing.url != listing.source_url:
        return listing.url
    return tuple(sorted((k.value, tuple(e.value for e in v)) for k, v in listing.values.items()))


def listing_key(listing: Listing) -> str:
    """`listing_identity` as a string that stays the same between runs (finding ids are made from it)."""
    identity = listing_identity(listing)
    return identity if isinstance(identity, str) else "#" + repr(list(identity))  # type: ignore[call-overload]


def finding_id(site_id: str, verdict: Verdict) -> str:
    """The same listing on the same site gets the same id in every scan."""
    return hashlib.sha256(f"{site_id}\n{listing_key(verdict.listing)}".encode()).hexdigest()[:16]


def current_findings(scan: ScanResult) -> dict[str, tuple[SiteResult, Verdict]]:
    return {finding_id(s.site.id, v): (s, v) for s in scan.sites for v in s.user_listings}


def proved_gone(old: Remembered, site: SiteResult | None, seen: bool) -> bool:
    """Whether a listing found before is proved gone: every search that found it was answered by the site
    this time, and the listing was not `seen` at all (not even as a listing we could not confirm)."""
    if site is None or seen:
        return False
    if not old.found_by:
        # remembered without its searches (an older history): only a site that answered everything proves it
        return site.status is Status.NOT_FOUND
    outcomes: dict[str, set[Outcome]] = {}
    for q in site.queries:
        outcomes.setdefault(q.query.url, set()).add(q.outcome)
    return all(url in outcomes and outcomes[url] <= ANSWERED for url in old.found_by)


def diff(previous_id: str, previous_finished_at: str, previous: Mapping[str, Remembered], scan: ScanResult) -> ScanDiff:
    """Compare the user's listings now with those an earlier scan remembered. A listing is gone only when the
    searches that found it last time were answered this time without it; otherwise it is unknown."""
    now = current_findings(scan)
    sites = {s.site.id: s for s in scan.sites}
    seen = {finding_id(s.site.id, v) for s in scan.sites for v in s.verdicts}
    gone: list[str] = []
    unknown: list[str] = []
    for fid, old in previous.items():
        if fid in now:
            continue
        site = sites.get(old.site_id)
        (gone if proved_gone(old, site, fid in seen) else unknown).append(fid)
    return ScanDiff(
        previous_scan=previous_id,
        previous_finished_at=previous_finished_at,
        new=tuple(f for f in now if f not in previous),
        gone=tuple(gone),
        still_listed=tuple(f for f in now if f in previous),
        unknown=tuple(unknown),
        gone_details={f: previous[f] for f in (*gone, *unknown)},
    )
