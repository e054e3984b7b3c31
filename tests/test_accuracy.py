"""Identity matching against the accuracy corpus (tests/fixtures/accuracy/): every listing of every case.

The corpus holds synthetic people-search pages whose truth is known: which listing is the user, which is a
namesake, which is another person who shows one of the user's identifiers, and which of the user's values
each one exposes. One test per case checks every listing, so a failure names the case and the listing;
one more test requires precision and recall of 1.0 over the whole corpus. The integrity tests at the top
check the corpus itself and run even before the analysis stage exists.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import jmespath
import lxml.html
import pytest

from exposure.models import ExposureKind, Verdict
from exposure.parse import is_hidden


def _load_corpus_module() -> ModuleType:
    # tests/ is not a package: load the corpus reader by path, as benchmarks/analysis.py does
    path = Path(__file__).parent / "fixtures" / "accuracy" / "corpus.py"
    spec = importlib.util.spec_from_file_location("accuracy_corpus", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


corpus = _load_corpus_module()
CASES = corpus.load_cases()
RULES = corpus.load_rules()
PROFILES = corpus.load_profiles()

# Skip only while the module is absent; once it exists, an import error in it must fail loudly.
HAVE_ANALYZE = importlib.util.find_spec("exposure.analyze") is not None
needs_analyze = pytest.mark.skipif(not HAVE_ANALYZE, reason="exposure.analyze is not written yet")


# ---------------------------------------------------------------- the corpus itself


def test_corpus_is_complete() -> None:
    cases_dir = corpus.CORPUS_DIR / "cases"
    html = {p.stem for p in cases_dir.glob("*.html")}
    toml = {p.stem for p in cases_dir.glob("*.toml")}
    assert html == toml, f"cases without their pair: {sorted(html ^ toml)}"
    assert len(CASES) >= 45
    assert {c.rule for c in CASES} == set(RULES), "every layout is used, and only layouts that exist"
    assert {c.profile for c in CASES} == set(PROFILES), "every profile is used, and only profiles that exist"
    truths = [t.truth for c in CASES for t in c.listings]
    for kind in corpus.TRUTHS:
        assert truths.count(kind) >= 5, f"too few {kind!r} listings to measure anything"


def _listing_count(rule: Any, page: bytes) -> int:
    """How many listings the rule's selectors find, counted with lxml: the truth must list each of them.
    Hidden elements (hidden, aria-hidden, display:none, d-none) are no listings."""
    doc = lxml.html.document_fromstring(page)
    count = 0
    if rule.extract.listing:
        count += sum(
            1
            for el in doc.cssselect(rule.extract.listing)
            if not any(is_hidden(a) for a in el.iterancestors()) and not is_hidden(el)
        )
    if rule.extract.embedded:
        for script in doc.cssselect(rule.extract.embedded.script):
            found = jmespath.search(rule.extract.embedded.listings, json.loads(script.text_content()))
            count += len(found or [])
    return count


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case_truth_is_consistent(case: Any) -> None:
    profile = PROFILES[case.profile]
    assert b"{{" not in case.body, "an age placeholder was left unfilled"
    assert _listing_count(RULES[case.rule], case.body) == len(case.listings), "one [[listings]] per listing"
    own = {
        "phone": set(profile.phones),
        "email": set(profile.emails),
        "address": {a.street for a in profile.addresses},
    }
    for i, t in enumerate(case.listings, 1):
        where = f"listing {i} ({t.name})"
        for kind, value in t.exposed_match:
            assert value in own[kind], f"{where}: {kind} {value} is not the profile's"
        if t.truth in ("namesake", "unconfirmed", "other"):
            assert not t.exposed_match, f"{where}: a {t.truth} cannot show the user's own values"
        if t.truth == "identifier":
            assert t.exposed_match, f"{where}: an identifier listing must show one of the user's values"


# ---------------------------------------------------------------- the analysis stage against the truth


def _analyze(case: Any) -> list[Verdict]:
    from exposure.analyze import analyze_page

    return list(analyze_page(case.body, case.url, RULES[case.rule], PROFILES[case.profile]))


def _shown_name(v: Verdict) -> str:
    names = v.listing.values.get(ExposureKind.NAME, ())
    return names[0].value if names else v.listing.text[:40]


def _describe(v: Verdict) -> str:
    state = corpus.state_of(v)
    exposed = ", ".join(
        f"{e.kind}:{e.value}{'*' if e.matches_profile else ''}{' (partial)' if e.partial else ''}" for e in v.exposed
    )
    return f"judged {state}; reasons: {list(v.reasons)}; exposed: [{exposed}]"


def _problems(truth: Any, v: Verdict) -> list[str]:
    """Everything wrong with one verdict, in words, so one run shows every failure of a case."""
    out = []
    expected = {
        "user": (True, False, None, False),  # identifier_exposed is not asserted for the user's own listing
        "namesake": (False, True, False, False),
        "unconfirmed": (False, False, False, True),
        "identifier": (False, False, True, False),
        "other": (False, False, False, False),
    }[truth.truth]
    got = (v.is_user, v.namesake, v.identifier_exposed, v.unconfirmed)
    labels = ("is_user", "namesake", "identifier_exposed", "unconfirmed")
    for label, want, have in zip(labels, expected, got, strict=True):
        if want is not None and want != have:
            out.append(f"{label} is {have}, expected {want}")
    if truth.truth == "user" and v.is_user and not v.reasons:
        out.append("a user verdict without reasons")
    found = corpus.matched_values(v)
    expected_values = set(truth.exposed_match)
    for kind, value in sorted(expected_values - found):
        out.append(f"{kind} {value} not reported as a full match")
    for kind, value in sorted(found - expected_values):
        out.append(f"{kind} {value} reported as the user's, but the truth does not list it")
    for e in v.exposed:
        if e.partial and e.matches_profile:
            out.append(f"masked {e.kind} {e.value!r} reported as a full match")
    for kind in truth.partial:
        if not any(e.partial and str(e.kind) == kind for e in v.exposed):
            out.append(f"masked {kind} not reported as a partial exposure")
    return out


@needs_analyze
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case(case: Any) -> None:
    verdicts = _analyze(case)
    shown = [_shown_name(v) for v in verdicts]
    assert len(verdicts) == len(case.listings), (
        f"{case.id}: {len(verdicts)} listings extracted {shown}, the truth has {len(case.listings)}"
        f" {[t.name for t in case.listings]}"
    )
    report = []
    for i, (truth, v) in enumerate(zip(case.listings, verdicts, strict=True), 1):
        problems = _problems(truth, v)
        if problems:
            report.append(
                f"listing {i} {truth.name!r} (truth {truth.truth}, page shows {_shown_name(v)!r}): "
                + "; ".join(problems)
                + f"\n    {_describe(v)}"
            )
    assert not report, f"{case.id}: {case.note}\n" + "\n".join(report)


@needs_analyze
def test_corpus_precision_and_recall() -> None:
    results: list[tuple[Any, Sequence[Verdict]]] = [(case, _analyze(case)) for case in CASES]
    scores = corpus.score_corpus(results)
    summary = ", ".join(
        f"{k}: precision {s.precision:.3f} recall {s.recall:.3f} (tp {s.tp}, fp {s.fp}, fn {s.fn})"
        for k, s in scores.items()
    )
    for s in scores.values():
        assert s.precision == 1.0, summary
        assert s.recall == 1.0, summary
