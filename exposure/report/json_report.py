"""The JSON report (schema_version 1): the machine-readable record of a scan.

Later versions may add fields, never rename these. Holds the user's own data: written 0600.
"""

from __future__ import annotations

import json
from typing import Any

from ..findings import finding_id
from ..models import ByHand, ScanResult, SiteResult, Verdict
from ..summary import california_drop, counts, headline

SCHEMA_VERSION = 1


def _listing(site_id: str, v: Verdict, new: frozenset[str]) -> dict[str, Any]:
    fid = finding_id(site_id, v)
    return {
        "finding_id": fid,
        "new": fid in new,
        "url": v.listing.url,
        "is_user": v.is_user,
        "namesake": v.namesake,
        "unconfirmed": v.unconfirmed and not (v.is_user or v.identifier_exposed),
        "identifier_exposed": v.identifier_exposed,
        "ignored": v.ignored,
        "confidence": round(v.confidence, 3),
        "reasons": list(v.reasons),
        "exposed": [
            {
                "kind": e.kind.value,
                "value": e.value,
                "matches_profile": e.matches_profile,
                "partial": e.partial,
                "evidence": e.evidence,
            }
            for e in v.exposed
        ],
    }


def site_dict(s: SiteResult, new: frozenset[str] = frozenset()) -> dict[str, Any]:
    o = s.opt_out
    return {
        "id": s.site.id,
        "name": s.site.name,
        "domain": s.site.domain,
        "parent": s.site.parent,
        "sister_sites": list(s.site.sister_sites),
        "manual_url": s.site.manual_url,
        "california_registry": s.site.california_registry,
        "status": s.status.value,
        "reason": s.reason.value if s.reason else None,
        "detail": s.detail,
        "raw_detail": s.raw_detail,
        "interrupted": s.interrupted,
        "queries": [
            {
                "kind": q.query.kind.value,
                "label": q.query.label,
                "url": q.query.url,
                "final_url": q.final_url,
                "outcome": q.outcome.value,
                "http_status": q.http_status,
                "detail": q.detail,
                "raw_detail": q.raw,
            }
            for q in s.queries
        ],
        "listings": [_listing(s.site.id, v, new) for v in s.verdicts],
        "opt_out": _opt_out_dict(o),
    }


def to_dict(scan: ScanResult) -> dict[str, Any]:
    """The report as plain data; the HTML, Markdown and CSV formats read the same numbers."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "exposure", "version": scan.tool_version},
        "scan": {
            "id": scan.id,
            "started_at": scan.started_at,
            "finished_at": scan.finished_at,
            "interrupted": scan.interrupted,
        },
        "summary": summary(scan),
        "changes": changes_dict(scan),
        "sites": [site_dict(s, frozenset(scan.changes.new) if scan.changes else frozenset()) for s in scan.sites],
        "check_by_hand": [by_hand_dict(b) for b in scan.by_hand],
        "california_drop": california_drop(scan),
        # the removal requests recorded with `exposure optout`, followed up by this scan (empty without history)
        "removals": [
            {
                "site_id": r.site_id,
                "site_name": r.site_name,
                "state": r.state,
                "text": r.text,
                "asked_on": r.asked_on,
                "requested_from": r.requested_from,
                "request_id": r.request_id,
            }
            for r in scan.removals
        ],
    }


def _opt_out_dict(o: Any) -> dict[str, Any] | None:
    if o is None:
        return None
    return {
        "url": o.url,
        "method": o.method,
        "requires": list(o.requires),
        "steps": o.steps,
        "days": o.days,
        "covers": list(o.covers),
    }


def by_hand_dict(b: ByHand) -> dict[str, Any]:
    """A catalog site that cannot be checked automatically: where to search it, why, and how to opt out."""
    return {
        "id": b.site.id,
        "name": b.site.name,
        "domain": b.site.domain,
        "parent": b.site.parent,
        "manual_url": b.site.manual_url,
        "why": b.why,
        "opt_out": _opt_out_dict(b.opt_out),
    }


def changes_dict(scan: ScanResult) -> dict[str, Any] | None:
    """What changed since the previous scan in the history (null for a first scan or without history)."""
    c = scan.changes
    if c is None:
        return None
    return {
        "previous_scan": c.previous_scan,
        "previous_finished_at": c.previous_finished_at,
        "new": list(c.new),
        "still_listed": list(c.still_listed),
        "gone": [{"finding_id": f, **_remembered(c, f)} for f in c.gone],
        "unknown": [{"finding_id": f, **_remembered(c, f)} for f in c.unknown],
    }


def _remembered(c: Any, fid: str) -> dict[str, str]:
    r = c.gone_details.get(fid)
    return {"site_id": r.site_id, "site_name": r.site_name, "url": r.url} if r else {}


def summary(scan: ScanResult) -> dict[str, Any]:
    """The counts a person reads first (exposure/summary.py); the HTML summary shows exactly these."""
    out = counts(scan)
    out["headline"] = headline(scan)
    return out


class JsonReporter:
    suffix = ".json"

    def render(self, scan: ScanResult) -> bytes:
        return (json.dumps(to_dict(scan), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
