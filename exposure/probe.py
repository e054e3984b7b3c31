"""Self-check of a rule against its live site: do its markers still hold?

Sites change their pages every few months, and a rule that no longer fits can only be noticed by asking the
site. `probe` searches the site for a name nobody has (its own no-results answer must come back) and for a very
common one (listings must come back, shaped the way the rule expects). It sends nothing of the user's: both
people are invented. It is opt-in (`exposure rules probe ID...`) and never runs in tests against a real site.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .classify import DRIFT
from .models import Outcome, QueryKind, SiteResult, Status
from .pipeline import ScanOptions, scan
from .profile import ProfileFile, from_file_model
from .rules import Rule

# A name that no record holds (invented letter runs), and one that every people-search site lists many times.
INVENTED = "Qwzyx Vrbnaklt"
COMMON = "James Smith"
PLACE = "100 N State St, Chicago, IL 60602"


@dataclass(frozen=True)
class Probe:
    """What the two searches of one rule came to."""

    rule_id: str
    no_results_holds: bool
    results_hold: bool
    invented: str  # what the search for the invented name came back as, in words
    common: str

    @property
    def holds(self) -> bool:
        return self.no_results_holds and self.results_hold


def _person(name: str) -> ProfileFile:
    return ProfileFile(name=name, addresses=[PLACE])


def _words(site: SiteResult) -> str:
    outcomes = sorted({q.outcome.value for q in site.queries})
    detail = f": {site.detail}" if site.detail else ""
    return f"{site.status.value} ({', '.join(outcomes) or 'no request'}){detail}"


async def probe(rule: Rule, options: ScanOptions | None = None) -> Probe:
    """Search the rule's site for an invented and a common name, with its name searches only."""
    names_only = [s for s in rule.searches if s.kind is QueryKind.NAME]
    if not names_only:
        return Probe(rule.id, False, False, "the rule has no name search to probe with", "")
    narrowed = rule.model_copy(update={"searches": names_only})
    options = options or ScanOptions()
    invented = (await scan(from_file_model(_person(INVENTED)), [narrowed], options)).sites[0]
    common = (await scan(from_file_model(_person(COMMON)), [narrowed], replace(options))).sites[0]
    # the invented name must get the site's own no-results answer to every search
    no_results = invented.status is Status.NOT_FOUND and all(q.outcome is Outcome.NO_RESULTS for q in invented.queries)
    # the common name must get listings the rule can read: a results page that does not look like the rule, or
    # a no-results answer for James Smith, means the markers no longer hold
    read = [q for q in common.queries if q.outcome is Outcome.RESULTS]
    drifted = any(DRIFT in q.detail for q in common.queries)
    return Probe(rule.id, no_results, bool(read) and not drifted, _words(invented), _words(common))
