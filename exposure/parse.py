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

from cssselect import HTMLTranslator
from lxml import etree
from lxml.cssselect import CSSSelector

Element = etree._Element
# Plain lxml elements: lxml.html's own element classes are looked up in Python for every node, which
# cost a tenth of the analysis time on large pages; nothing here needs their extra methods.
# huge_tree: without it libxml2 silently drops everything nested deeper than 256 levels, and a listing there
# would vanish from the page; the 5 MiB body cap bounds what a huge tree can cost.
_PARSER = etree.HTMLParser(recover=True, no_network=True, remove_comments=True, remove_pis=True, huge_tree=True)

_INVISIBLE = ("script", "style", "noscript", "template", "svg")
# Elements a person does not see. Sites keep hidden duplicates of cards and a hidden "no results" box on
# every results page; read as visible, the first double-count listings and the second says "not listed".
_MAYBE_HIDDEN = etree.XPath("//*[@hidden or @aria-hidden or @style or contains(@class, 'd-none')]")
_HIDDEN_STYLE = re.compile(
    r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*hidden)\s*(?:!important\s*)?(?:;|$)", re.I
)
# Bootstrap's responsive classes show a d-none element again from some width on: then it is visible
_SHOWN_AGAIN = re.compile(r"\bd-(?:sm|md|lg|xl|xxl)-(?:block|flex|inline|inline-block|inline-flex|grid|table)\b")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


class SelectorError(ValueError):
    """A selector in a rule is neither valid CSS nor valid XPath."""


# An XPath expression that starts with a function ("concat(...)", "normalize-space(.//h2)"): CSS never starts
# with a name followed by "(" (its functions are pseudo-classes, after a ":").
_XPATH_FUNCTION = re.compile(r"^[a-z][a-z-]*\(")


def is_xpath(selector: str) -> bool:
    s = selector.lstrip()
    return s.startswith(("/", "./", "(", "..")) or bool(_XPATH_FUNCTION.match(s))


_HTML_CSS = HTMLTranslator()


@lru_cache(maxsize=4096)
def compile_selector(selector: str, relative: bool = False) -> etree.XPath:
    """Compile once per selector string: rules reuse a handful of selectors on every page.

    `relative` is for selectors applied inside a listing: CSS then matches the listing's descendants only.
    cssselect's default translation is `descendant-or-self::`, so `location = "div"` on a `div.card` listing
    matched the card itself and read the whole card as one place.
    """
    try:
        if is_xpath(selector):
            return etree.XPath(selector)
        if relative:
            return etree.XPath(_HTML_CSS.css_to_xpath(selector, prefix="descendant::"))
        return CSSSelector(selector, translator="html")
    except Exception as exc:  # cssselect and lxml raise several unrelated types
        raise SelectorError(f"invalid selector {selector!r}: {exc}") from exc


def select(node: Any, selector: str, relative: bool = False) -> list[Any]:
    """Elements (or strings, for XPath text()/@attr results) matching the selector under node."""
    result = compile_selector(selector, relative)(node)
    return result if isinstance(result, list) else [result]


def node_text(node: Any) -> str:
    """Text of an element with whitespace collapsed; pieces split across tags joined by a space."""
    if isinstance(node, str):
        return " ".join(node.split())
    return " ".join(" ".join(node.itertext()).split())


_CODE_OPEN = re.compile(r"<(script|style)\b([^>]{0,2048})>", re.I)
_CODE_CLOSE = {"script": re.compile(r"</script\s{0,8}>", re.I), "style": re.compile(r"</style\s{0,8}>", re.I)}
_DATA_TYPE = re.compile(r"""type\s{0,4}=\s{0,4}["']?[^"'\s>]*json""", re.I)


def drop_code(text: str) -> str:
    """The page without its scripts and style sheets, found in one linear pass before parsing: they are often
    most of a page's bytes, a person never sees them, and they are removed after parsing anyway. Scripts
    that hold data (`type="application/ld+json"`, `application/json`) are kept. An unclosed block is left
    as it is, for the parser to deal with."""
    out: list[str] = []
    pos = 0
    while (m := _CODE_OPEN.search(text, pos)) is not None:
        tag = m.group(1).lower()
        if tag == "script" and _DATA_TYPE.search(m.group(2)):
            out.append(text[pos : m.end()])
            pos = m.end()
            continue
        close = _CODE_CLOSE[tag].search(text, m.end())
        if close is None:
            break
        out.append(text[pos : m.start()])
        pos = close.end()
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


class Document:
    """A parsed page. Script and style content is kept aside, then dropped from the visible tree.

    `keep_code = False` drops scripts and styles before parsing (`drop_code`), for pages whose rule reads no
    script (no `embedded` section): parsing what will be thrown away was much of the analysis time.
    """

    def __init__(self, text: str, url: str = "", keep_code: bool = True) -> None:
        self.url = url
        self.raw = text
        text = _XML_DECL.sub("", text, count=1)
        if not keep_code:
            text = drop_code(text)
        # the search for hidden elements walks the whole tree: only worth it when the markup can hold one
        self._may_hide = "hidden" in text or "none" in text or "HIDDEN" in text
        root = None
        try:
            root = etree.fromstring(text, _PARSER) if text.strip() else None
        except (etree.ParserError, etree.XMLSyntaxError, ValueError):
            root = None
        self.root: Element = root if root is not None else etree.fromstring("<html><body></body></html>", _PARSER)
        self.title = node_text(title) if (title := _first_title(self.root)) is not None else ""
        self._visible: str | None = None
        self._stripped = False

    def scripts(self, selector: str) -> list[str]:
        """Raw text of matching <script> elements (embedded JSON); read before the tree is stripped."""
        return [el.text or "" for el in select(self.root, selector) if not isinstance(el, str)]

    def strip_invisible(self) -> None:
        """Drop scripts, styles, comments and hidden elements, so that selectors and text see only what a
        person sees."""
        if not self._stripped:
            etree.strip_elements(self.root, etree.Comment, *_INVISIBLE, with_tail=False)
            for el in _MAYBE_HIDDEN(self.root) if self._may_hide else ():
                if is_hidden(el):
                    drop(el)
            self._stripped = True

    def visible_text(self) -> str:
        if self._visible is None:
            self.strip_invisible()
            body = self.root.find("body")
            self._visible = node_text(body if body is not None else self.root)
        return self._visible


def _first_title(root: Element) -> Element | None:
    """The page's first <title>, as `//title` finds it, without walking the whole tree when it sits where
    pages keep it: in the <head> that the parser puts before everything else (the walk cost 0.065 ms on the scan
    benchmark's pages, a sixth of lxml's parse of them; this costs 0.005)."""
    head = root[0] if len(root) else None
    if head is not None and head.tag == "head":
        title = head.find(".//title")
        if title is not None:
            return title
    return root.find(".//title")


def is_hidden(el: Any) -> bool:
    """Whether the element is hidden by its own attributes (the page's style sheets are not read)."""
    if el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    style = el.get("style")
    if style and _HIDDEN_STYLE.search(style.replace("\n", " ")):
        return True
    classes = el.get("class") or ""
    return " d-none " in f" {' '.join(classes.split())} " and not _SHOWN_AGAIN.search(classes)


def drop(el: Any) -> None:
    """Remove an element and what is inside it, keeping the text that follows it."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        # a hidden element between two words kept them apart: so does a space
        prev = el.getprevious()
        if prev is not None:
            prev.tail = f"{prev.tail} {el.tail}" if prev.tail else el.tail
        else:
            parent.text = f"{parent.text} {el.tail}" if parent.text else el.tail
    parent.remove(el)


def load_json(text: str) -> Any:
    """JSON from a script or body; None when it is not JSON (a site's bad JSON is not our error)."""
    text = text.strip()
    if text.startswith("<!--"):
        text = text.removeprefix("<!--").removesuffix("-->").strip()
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None
