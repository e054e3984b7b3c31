"""One page, start to finish without the network: parse -> extract -> classify -> match.

The pipeline uses it for every fetched page; the accuracy corpus and the analysis benchmark call it
directly, so what they measure is exactly what a scan runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .classify import classify
from .extract import Extraction, extract
from .match import judge
from .models import Classification, Outcome, Page, Verdict
from .parse import Document
from .profile import Profile
from .rules import Rule


@dataclass
class PageReading:
    classification: Classification
    extraction: Extraction
    doc: Document | None


def read_page(page: Page, rule: Rule) -> PageReading:
    """What a fetched page is and what listings it holds."""
    if page.failure is not None:
        return PageReading(Classification(page.failure, page.detail), Extraction(), None)
    doc = Document(page.text, page.final_url)
    extraction = extract(doc, page.text, rule, page.final_url)
    classification = classify(page, doc, rule, len(extraction.listings))
    if classification.outcome is not Outcome.RESULTS:
        extraction = Extraction(next_page=None)
    return PageReading(classification, extraction, doc)


def analyze_page(body: bytes | str, url: str, rule: Rule, profile: Profile, today: date | None = None) -> list[Verdict]:
    """Verdicts for every listing on one results page (no links followed)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    doc = Document(text, url)
    extraction = extract(doc, text, rule, url)
    return [judge(listing, profile, today) for listing in extraction.listings]
