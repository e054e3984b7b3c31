"""One page, start to finish without the network: parse -> extract -> classify -> match.

The pipeline hands every fetched page to an `Analyzer`; the accuracy corpus and the analysis benchmark call
`analyze_page` directly, so what they measure is exactly what a scan runs. What goes in is a `Page` (bytes,
status, headers) and what comes out is plain values (`ResultsReading`, `DetailReading`): this is the part
of a scan that burns CPU, and it runs off the event loop (see `exposure/workers.py`), so a page that takes
long to read can never freeze the network side of the scan.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from .bodies import decode_page
from .classify import classify, classify_detail
from .extract import Extraction, extract, merge_detail
from .match import judge
from .models import Classification, Listing, Outcome, Page, Verdict
from .parse import Document
from .profile import Profile
from .rules import Rule


@dataclass(frozen=True)
class ResultsReading:
    """What a results page is, and what its listings say (each judged on its card alone)."""

    classification: Classification
    verdicts: tuple[Verdict, ...] = ()
    detail_links: tuple[str | None, ...] = ()  # per verdict, same order
    worth_detail: tuple[bool, ...] = ()  # per verdict: carries one of the user's names (or none we could read)
    next_page: str | None = None
    cut: int = 0  # listings beyond the extraction cap, not read
    notes: tuple[str, ...] = ()  # what was ignored on the page (links that do not parse, ...)

    @property
    def read_listings(self) -> bool:
        """Whether the listings are worth judging: the site's answer, or a drifted page that may still show
        the user (it can prove a listing, never an absence)."""
        return bool(self.verdicts) and self.classification.outcome in (Outcome.RESULTS, Outcome.UNRECOGNIZED)


@dataclass(frozen=True)
class DetailReading:
    """A listing's own page: whether it was the person's page, and the verdict with what it added."""

    classification: Classification
    verdict: Verdict


def lean(verdict: Verdict, opened: bool = False) -> Verdict:
    """A listing's full text is kept only while something reads it again: the user's own listings (the report
    shows it) and a card whose own page is still to be read (`opened`: the detail's reading starts from the
    card). Anyone else's is the bulk of what a worker process sends back; the scan drops the opened cards' text
    too once they are read (pipeline._SiteState.add)."""
    if verdict.is_user or verdict.identifier_exposed or opened or not verdict.listing.text:
        return verdict
    return replace(verdict, listing=replace(verdict.listing, text=""))


def opens_detail(rule: Rule, link: str | None, worth: bool) -> bool:
    """Whether the scan opens a listing's own page: the rule reads detail pages, the listing links to one, and
    it is worth a visit. The scan decides by this, and a worker keeps a card's text for exactly these."""
    return rule.extract.detail is not None and bool(link) and worth


def _worth_a_detail_visit(verdict: Verdict) -> bool:
    """Only listings that carry one of the user's names (or no name we could read) are worth a second
    request: the others are strangers. The card's verdict already says which: the user, a namesake (a name
    of the user's that something contradicts) or unconfirmed (the user's name, or no name at all)."""
    return verdict.is_user or verdict.namesake or verdict.unconfirmed or verdict.identifier_exposed


class Analyzer:
    """Reads pages for one scan: the profile and the rules are given once, pages arrive one by one."""

    def __init__(
        self, profile: Profile, rules: dict[str, Rule], today: date | None = None, max_body: int = 5 * 1024 * 1024
    ) -> None:
        self.profile = profile
        self.rules = rules
        self.today = today
        self.max_body = max_body  # decoded bytes a page may grow to (the fetcher's own cap)

    def results(self, page: Page, rule_id: str, found_by: str) -> ResultsReading:
        """A search's page (first or next): its classification and its listings, judged."""
        rule = self.rules[rule_id]
        page = decode_page(page, self.max_body)
        if page.failure is not None:
            return ResultsReading(Classification(page.failure, page.detail))
        doc = Document(page.text, page.final_url, keep_code=rule.reads_code)
        extraction = extract(doc, page.text, rule, page.final_url, (found_by,))
        classification = classify(page, doc, rule, len(extraction.listings), extraction.drift)
        if classification.outcome not in (Outcome.RESULTS, Outcome.UNRECOGNIZED) or not extraction.listings:
            return ResultsReading(classification, notes=tuple(extraction.notes))
        verdicts = [judge(listing, self.profile, self.today) for listing in extraction.listings]
        worth = [_worth_a_detail_visit(v) for v in verdicts]
        opened = [opens_detail(rule, link, w) for link, w in zip(extraction.detail_links, worth, strict=True)]
        return ResultsReading(
            classification=classification,
            verdicts=tuple(lean(v, o) for v, o in zip(verdicts, opened, strict=True)),
            detail_links=tuple(extraction.detail_links),
            worth_detail=tuple(worth),
            next_page=extraction.next_page if classification.outcome is Outcome.RESULTS else None,
            cut=extraction.cut,
            notes=tuple(extraction.notes),
        )

    def detail(self, page: Page, rule_id: str, listing: Listing) -> DetailReading:
        """A listing's own page. Anything but the person's page (a block, a login wall, a redirect home)
        leaves the listing unread: it can still be confirmed from its card, never ruled out."""
        rule = self.rules[rule_id]
        detail = rule.extract.detail
        assert detail is not None
        page = decode_page(page, self.max_body)
        doc = Document(page.text, page.final_url, keep_code=False) if page.failure is None else None
        merged, read = (listing, False)
        if doc is not None:
            merged, read = merge_detail(listing, doc, detail)
        classification = classify_detail(page, doc, rule, listing, read)
        if classification.outcome is not Outcome.RESULTS:
            merged = replace(listing, unread=f"its own page: {classification.detail}")
        return DetailReading(classification, lean(judge(merged, self.profile, self.today)))


def analyze_page(body: bytes | str, url: str, rule: Rule, profile: Profile, today: date | None = None) -> list[Verdict]:
    """Verdicts for every listing on one results page (no links followed)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    doc = Document(text, url, keep_code=rule.reads_code)
    extraction: Extraction = extract(doc, text, rule, url)
    return [judge(listing, profile, today) for listing in extraction.listings]
