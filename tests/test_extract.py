"""Unit tests of extraction helpers that are not worth a page served over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import jmespath
import pytest

from exposure.extract import extract, jmes
from exposure.parse import Document
from exposure.rules import load_rule

DATA = {
    "graph": [
        {"@type": "Person", "name": "Jane Testwood", "telephone": ["217-555-0101", "217-555-0102"], "age": 47},
        {"@type": "Organization", "name": "Not a person"},
        {"@type": "Person", "name": "Ann Dune", "address": {"addressLocality": "Springfield", "addressRegion": "IL"}},
    ]
}
EXPRESSIONS = [
    "graph[?\"@type\"=='Person']",
    "graph[0].telephone",
    "graph[*].name",
    "graph[2].address.[addressLocality, addressRegion]",
    "graph[0].missing",
    "length(graph)",
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_jmes_answers_as_jmespath_search_does(expression: str) -> None:
    assert jmes(expression, DATA) == jmespath.search(expression, DATA)
    assert jmes(expression, DATA) == jmespath.search(expression, DATA)  # again, from the parsed cache


def test_jmes_raises_what_jmespath_search_raises() -> None:
    # a site's data of the wrong type for a function: the callers catch JMESPathError and skip the value
    with pytest.raises(jmespath.exceptions.JMESPathError):
        jmespath.search("length(graph[0].age)", DATA)
    with pytest.raises(jmespath.exceptions.JMESPathError):
        jmes("length(graph[0].age)", DATA)
    with pytest.raises(jmespath.exceptions.JMESPathError):
        jmes("graph[", DATA)


RULE = """
id = "both"
name = "Both Site"
domain = "s.test"
[[searches]]
kind = "name"
url = "http://s.test/name/{first|lower|slug}-{last|lower|slug}"
[[pages.no_results]]
selector = "#no-results"
[extract]
listing = "div.card"
link = "a.profile@href"
[extract.fields]
name = "h2.name"
[extract.embedded]
script = "script[type='application/ld+json']"
listings = "@"
fields = { name = "name" }
link = "url"
[opt_out]
url = "http://s.test/optout"
"""


def test_every_listing_carries_the_search_that_found_it(tmp_path: Path) -> None:
    # a card alone, a JSON record alone, and a card merged with the record of the same person: the history
    # calls a listing gone only when one of its searches answered again without it, so none may lose it
    path = tmp_path / "both.toml"
    path.write_text(RULE)
    rule = load_rule(path)
    records = [{"name": "Ann Dune", "url": "/p/ad-2"}, {"name": "Jane Testwood", "url": "/p/jt-1"}]
    body = (
        '<div class="card"><h2 class="name">Jane Testwood</h2><a class="profile" href="/p/jt-1">View</a></div>'
        '<div class="card"><h2 class="name">Bo Field</h2><a class="profile" href="/p/bf-3">View</a></div>'
        f'<script type="application/ld+json">{json.dumps(records)}</script>'
    )
    html = f"<html><body>{body}</body></html>"
    url = "http://s.test/name/jane-testwood"
    extraction = extract(Document(html, url, keep_code=rule.reads_code), html, rule, url, (url,))
    assert sorted(listing.url.rsplit("/", 1)[1] for listing in extraction.listings) == ["ad-2", "bf-3", "jt-1"]
    assert all(listing.found_by == (url,) for listing in extraction.listings)
    assert all(listing.found_by == () for listing in extract(Document(html, url), html, rule, url).listings)
