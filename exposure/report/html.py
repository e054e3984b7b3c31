"""The HTML report: one self-contained file a person opens, reads in five minutes and acts on.

Why it is built this way:
- It holds scraped text from sites we do not control, so every value goes through Jinja2 with
  autoescape on, and nothing from a page is ever marked safe. URLs become links only through
  `view.safe_url` (http/https, rebuilt from the parsed parts).
- Opening it must not contact anyone (a people-search site must not learn that its listing was
  looked at, and no CDN should see the reader). All CSS and script are inline, and a
  Content-Security-Policy meta tag, first in <head>, allows exactly those two blocks by hash and
  nothing else: even an escaping bug could not load or run anything.
- The CSS and script are our own files beside the template. Their hashes are computed from the
  exact text inserted at render time, so editing them can never leave a stale hash behind.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from importlib.resources import files

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from ..models import ScanResult
from .interface import ReportError
from .view import HEADLINE_KINDS, KIND_LABEL, Link, and_list, build

_TEMPLATES = files("exposure.report") / "templates"


def csp_hash(block: str) -> str:
    """The CSP source expression that allows exactly this inline <style> or <script> body."""
    digest = hashlib.sha256(block.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def content_security_policy(css: str, js: str) -> str:
    # default-src 'none' also covers fonts, frames, fetch/XHR, media and objects; img-src data: lets
    # the empty favicon stand in for a request to /favicon.ico; base-uri and form-action close the
    # two holes default-src does not cover.
    return "; ".join(
        (
            "default-src 'none'",
            f"style-src {csp_hash(css)}",
            f"script-src {csp_hash(js)}",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        )
    )


@cache
def _asset(name: str) -> str:
    text = (_TEMPLATES / name).read_text(encoding="utf-8")
    closing = "</style" if name.endswith(".css") else "</script"
    if closing in text.lower():
        raise ReportError(f"{name} must not contain {closing}: it would end its own inline block")
    return text


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("exposure.report", "templates"),
        autoescape=True,  # every template, whatever its name: the values in it came from web pages
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


class HtmlReporter:
    """Renders a scan as a single HTML file (see the module docstring for why it looks like this)."""

    suffix = ".html"

    def render(self, scan: ScanResult) -> bytes:
        css, js = _asset("report.css"), _asset("report.js")
        template = _environment().get_template("report.html.j2")
        html = template.render(
            r=build(scan),
            link_of=Link.of,
            labels=KIND_LABEL,
            and_list=and_list,
            headline=HEADLINE_KINDS,
            csp=content_security_policy(css, js),
            # Our own files, checked above not to close their block; never anything scraped.
            css=Markup(css),
            js=Markup(js),
        )
        return html.encode("utf-8")
