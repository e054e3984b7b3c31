"""Unit tests of extraction helpers that are not worth a page served over HTTP."""

from __future__ import annotations

import jmespath
import pytest

from exposure.extract import jmes

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
