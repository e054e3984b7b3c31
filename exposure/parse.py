"""The one HTML parser interface every stage uses.

lxml (with cssselect) sits behind it rather than beautifulsoup4: the analysis target is 15 MB of HTML
per second on one core, and on a realistic 2 MB results page BeautifulSoup parses and selects at about
1 MB/s while lxml does about 20 MB/s. Selectors are CSS, or XPath when they start with "/", "./" or "(",
because several sites are only reliably described with XPath text predicates.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from lxml import etree
from lxml.cssselect import CSSSelector

Element = etree._Element
# Plain lxml elements: lxml.html's own element classes are looked up in Python for every node, which
# cost a tenth of the analysis time on large pages; nothing here needs their extra methods.
_PARSER = etree.HTMLParser(recover=True, no_network=True, remove_comments=True, remove_pis=True, huge_tree=False)

_INVISIBLE = ("script", "style", "noscript", "template", "svg")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


class SelectorError(ValueError):
    """A selector in a rule is neither valid CSS nor valid XPath."""


def is_xpath(selector: str) -> bool:
    return selector.lstrip().startswith(("/", "./", "("))


@lru_cache(maxsize=2048)
def compile_selector(selector: str) -> etree.XPath:
    """Compile once per selector string: rules reuse a handful of selectors on every page."""
    try:
        if is_xpath(selector):
            return etree.XPath(selector)
        return CSSSelector(selector, translator="html")
    except Exception as exc:  # cssselect and lxml raise several unrelated types
        raise SelectorError(f"invalid selector {selector!r}: {exc}") from exc


def select(node: Any, selector: str) -> list[Any]:
    """Elements (or strings, for XPath text()/@attr results) matching the selector under node."""
    result = compile_selector(selector)(node)
    return result if isinstance(result, list) else [result]


def node_text(node: Any) -> str:
    """Text of an element with whitespace collapsed; pieces split across tags joined by a space."""
    if isinstance(node, str):
        return " ".join(node.split())
    return " ".join(" ".join(node.itertext()).split())


class Document:
    """A parsed page. Script and style content is kept aside, then dropped from the visible tree."""

    def __init__(self, text: str, url: str = "") -> None:
        self.url = url
        self.raw = text
        text = _XML_DECL.sub("", text, count=1)
        root = None
        try:
            root = etree.fromstring(text, _PARSER) if text.strip() else None
        except (etree.ParserError, etree.XMLSyntaxError, ValueError):
            root = None
        self.root: Element = root if root is not None else etree.fromstring("<html><body></body></html>", _PARSER)
        titles = self.root.xpath("//title")
        self.title = node_text(titles[0]) if titles else ""
        self._visible: str | None = None
        self._stripped = False

    def scripts(self, selector: str) -> list[str]:
        """Raw text of matching <script> elements (embedded JSON); read before the tree is stripped."""
        return [el.text or "" for el in select(self.root, selector) if not isinstance(el, str)]

    def strip_invisible(self) -> None:
        """Drop scripts, styles and comments so that selectors and text see only what a person sees."""
        if not self._stripped:
            etree.strip_elements(self.root, etree.Comment, *_INVISIBLE, with_tail=False)
            self._stripped = True

    def visible_text(self) -> str:
        if self._visible is None:
            self.strip_invisible()
            body = self.root.find("body")
            self._visible = node_text(body if body is not None else self.root)
        return self._visible


def load_json(text: str) -> Any:
    """JSON from a script or body; None when it is not JSON (a site's bad JSON is not our error)."""
    text = text.strip()
    if text.startswith("<!--"):
        text = text.removeprefix("<!--").removesuffix("-->").strip()
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None
