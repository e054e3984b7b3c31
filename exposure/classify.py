"""Page -> results | no results | blocked | rate limited | timeout | error | unrecognized.

The rule of this module: a page is NO_RESULTS only when the site's own no-results answer is
recognised. A page we cannot place is UNRECOGNIZED, which the scan reports as "could not check";
it is never read as "you are not listed".

Protections are recognised by strong markers (a challenge header, a challenge title, a captcha
vendor's block script) anywhere, and by weak markers (scripts that the same vendors also inject into
normal pages, generic words such as "Access Denied") only on an error status or in the title, so a
results page whose script or contact form says "Access Denied" is not taken for a block.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import regex

from .models import Classification, ExposureKind, Listing, Outcome, Page
from .normalize import fold
from .parse import Document, select
from .rules import PageMatcher, Rule

# The words of the detail an unrecognised page gets when a rule no longer fits it: the report says the
# rule may be out of date.
DRIFT = "the site's page looks different from what this rule expects"
# Longest a rule's regex may run on one page: rule files come from others, and `(a+)+$` on a long URL would
# otherwise hang the scan.
RULE_REGEX_SECONDS = 0.05


class RuleRuntimeError(Exception):
    """A rule's own pattern failed on a page (it ran past its time limit): that site could not be checked."""


def rule_search(pattern: str, text: str, flags: int = 0) -> bool:
    """A rule regex, in an engine with a time limit that lets go of the interpreter while it runs."""
    try:
        return regex.search(pattern, text, flags, timeout=RULE_REGEX_SECONDS, concurrent=True) is not None
    except TimeoutError:
        raise RuleRuntimeError(f"the rule's pattern {pattern[:80]!r} took too long on this page") from None


@dataclass(frozen=True)
class Protection:
    name: str
    strong_headers: tuple[tuple[str, str], ...] = ()  # (header, regex on value)
    strong_titles: tuple[str, ...] = ()  # regexes on <title>
    strong_body: tuple[str, ...] = ()  # substrings of the raw body
    # weak markers: vendors put them on ordinary pages too, so they count only on an error status of a
    # page that is not recognised as the site's own answer, and then only to name who blocked us
    weak_body: tuple[str, ...] = ()
    weak_headers: tuple[tuple[str, str], ...] = ()


PROTECTIONS: tuple[Protection, ...] = (
    Protection(
        "Cloudflare",
        strong_headers=(("cf-mitigated", r"challenge"),),
        # "used Cloudflare to restrict access": the title of its firewall-rule block (error 1020)
        strong_titles=(r"^just a moment", r"attention required!? \| cloudflare", r"used cloudflare to restrict access"),
        strong_body=("cf-browser-verification", "cf_chl_opt", "challenge-error-text"),
        weak_body=("/cdn-cgi/challenge-platform/",),
        weak_headers=(("server", r"cloudflare"),),
    ),
    Protection(
        "HUMAN (PerimeterX)",
        strong_body=("px-captcha",),  # its captcha's element (id="px-captcha"), and any other mention of it
        strong_titles=(r"press & hold",),
        weak_body=("Press & Hold", "Press &amp; Hold", "_pxAppId", "perimeterx"),
    ),
    Protection(
        "DataDome",
        strong_body=("captcha-delivery.com",),
        weak_headers=(("x-datadome", r".*"), ("x-dd-b", r".*")),
        weak_body=("datadome",),
    ),
    Protection(
        "Akamai",
        strong_body=(),
        weak_body=("Reference #18.", "Reference&#32;&#35;18", "errors.edgesuite.net"),
        weak_headers=(("server", r"akamaighost"),),
    ),
    Protection(
        "Imperva (Incapsula)",
        strong_body=("Incapsula incident ID", "Request unsuccessful. Incapsula"),
        weak_body=("_Incapsula_Resource",),
        weak_headers=(("x-iinfo", r".*"),),
    ),
    Protection(
        "DDoS-Guard",
        strong_titles=(r"ddos-guard",),
        strong_body=("check.ddos-guard.net", "ddos-guard.net/check"),
        weak_body=("/.well-known/ddos-guard/",),
        weak_headers=(("server", r"ddos-guard"),),
    ),
    Protection(
        "AWS WAF",
        strong_headers=(("x-amzn-waf-action", r"captcha|challenge|block"),),
        # gokuProps and saveReferrer belong to the challenge and captcha interstitials; the JavaScript SDK
        # that sites put on ordinary pages also loads from awswaf.com and calls AwsWafIntegration
        strong_body=("gokuProps", "AwsWafIntegration.saveReferrer"),
        weak_body=("awswaf.com", "aws-waf-token", "AwsWafIntegration"),
    ),
)

# Captcha widgets: a block only on a page that is nothing else (no listings, no no-results answer),
# since real search forms embed them too.
CAPTCHAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("hCaptcha", ("h-captcha", "hcaptcha.com/1/api.js")),
    ("reCAPTCHA", ("g-recaptcha", "google.com/recaptcha", "recaptcha/api.js")),
    ("Cloudflare Turnstile", ("cf-turnstile", "challenges.cloudflare.com/turnstile")),
)
GENERIC_BLOCK_WORDS = re.compile(
    r"access denied|forbidden|request blocked|you have been blocked|are you a (?:robot|human)|"
    r"unusual traffic|verify you are human|bot detection|security check",
    re.I,
)
RATE_LIMIT_WORDS = re.compile(r"rate limit(?:ed| exceeded)?|too many requests|slow down|try again later", re.I)
# where a site sends a visitor it will not show a record to
_WALL_PATH = re.compile(r"log-?in|sign-?in|captcha|challenge|verify|blocked|subscribe|checkout|register", re.I)


# Statuses a wall answers with. A 404 or 410 is the site saying "no such page", never a wall, even on a
# site whose CDN stamps its own header on every answer.
_NOT_WALL_STATUSES = frozenset({404, 410})
_TITLE_OPEN = re.compile(r"<title\b[^>]{0,512}>", re.I)
_TITLE_CLOSE = re.compile(r"</title", re.I)


def raw_title(text: str) -> str:
    """The first <title> of a page without parsing it. Linear: a page of a thousand unclosed "<title"
    tags costs one pass, where a lazy `<title>(.*?)</title` regex retried from every one of them."""
    m = _TITLE_OPEN.search(text)
    if not m:
        return ""
    end = _TITLE_CLOSE.search(text, m.end(), m.end() + 4096)
    return text[m.end() : end.start()] if end else ""


def _title_hit(title: str, patterns: tuple[str, ...]) -> bool:
    return any(re.search(p, title, re.I) for p in patterns)


def _header_hit(headers: Mapping[str, str], pairs: tuple[tuple[str, str], ...]) -> bool:
    return any(h in headers and re.search(p, headers[h], re.I) for h, p in pairs)


def _strong(headers: Mapping[str, str], title: str, raw: str) -> str | None:
    # every vendor's strong markers before any vendor's weak ones: a DataDome or HUMAN wall served
    # through Cloudflare's CDN (Server: cloudflare) is DataDome's or HUMAN's, not Cloudflare's
    for p in PROTECTIONS:
        if _header_hit(headers, p.strong_headers) or _title_hit(title, p.strong_titles):
            return p.name
        if any(marker in raw for marker in p.strong_body):
            return p.name
    return None


def challenge_in(status: int | None, headers: Mapping[str, str], text: str) -> str | None:
    """The protection a response unmistakably comes from (strong markers only), without parsing the page.

    The fetcher asks this about 5xx answers before retrying them: a challenge served with 503 is a wall
    to report, not a flaky server to ask again.
    """
    title = " ".join(html.unescape(raw_title(text[:65536])).split())
    return _strong({k.lower(): v for k, v in headers.items()}, title, text)


def detect_protection(page: Page, doc: Document, *, weak_allowed: bool) -> str | None:
    """The protection that answered instead of the site, when there is one.

    `weak_allowed` is False when the page is already recognised as the site's own answer (listings, or
    its no-results page): then only strong markers and a block title count, because vendors inject their
    weak markers (sensor scripts, CDN headers) into the site's ordinary pages too.
    """
    headers = {k.lower(): v for k, v in page.headers.items()}
    raw = page.text
    # On a page whose listings were read, a challenge could only be a banner or an include: its markers
    # sit near the top or the bottom, and searching only there keeps big results pages cheap.
    head_and_tail = raw if weak_allowed or len(raw) <= 40_960 else raw[:32_768] + raw[-8_192:]
    name = _strong(headers, doc.title, head_and_tail)
    if name:
        return name
    walled = (page.status or 0) >= 400 and page.status not in _NOT_WALL_STATUSES
    if weak_allowed and walled:
        # Akamai writes its reference number with character entities ("Reference&#32;&#35;18&#46;..."):
        # markers are looked for in the decoded text as well as the raw one
        decoded = html.unescape(raw) if "&" in raw else raw
        for p in PROTECTIONS:
            if _header_hit(headers, p.weak_headers) or any(m in raw or m in decoded for m in p.weak_body):
                return p.name
    if weak_allowed:
        for captcha, markers in CAPTCHAS:
            if any(m in raw for m in markers):
                return f"{captcha} captcha"
    if GENERIC_BLOCK_WORDS.search(doc.title) or (walled and weak_allowed and GENERIC_BLOCK_WORDS.search(raw)):
        return "a block page"
    return None


def matches(matcher: PageMatcher, page: Page, doc: Document) -> bool:
    """Whether every condition the matcher gives holds for this page."""
    if matcher.status and page.status not in matcher.status:
        return False
    if matcher.final_url and not rule_search(matcher.final_url, page.final_url[:8192]):
        return False
    for name, pattern in matcher.header.items():
        if not rule_search(pattern, page.headers.get(name, "")[:8192], regex.I):
            return False
    if matcher.title and not any(t.lower() in doc.title.lower() for t in matcher.title):
        return False
    if matcher.selector:
        doc.strip_invisible()
        if not select(doc.root, matcher.selector):
            return False
    if matcher.text:
        visible = doc.visible_text().lower()
        if not any(t.lower() in visible for t in matcher.text):
            return False
    return True


def _drift_detail(what: str) -> str:
    return f"{DRIFT} ({what}): the rule may be out of date"


def classify(
    page: Page, doc: Document | None, rule: Rule, listing_count: int, drift: tuple[str, ...] = ()
) -> Classification:
    """Decide what a page is. `listing_count` is how many listings extraction found on it, `drift` the
    fields the rule expects that most of them lacked."""
    if page.failure is not None:
        return Classification(page.failure, page.detail)
    assert doc is not None
    # the site's own block pages first: they are the most specific knowledge we have
    for m in rule.pages.blocked:
        if matches(m, page, doc):
            return Classification(Outcome.BLOCKED, "the site's own block page")
    # listings make the page the site's answer; its no-results matchers (which may read the whole
    # visible text) are only worth running when there are none
    no_results = listing_count == 0 and any(matches(m, page, doc) for m in rule.pages.no_results)
    recognised = listing_count > 0 or no_results
    protection = detect_protection(page, doc, weak_allowed=not recognised)
    if protection:
        return Classification(Outcome.BLOCKED, f"blocked by {protection}")
    if listing_count > 0:
        if drift:
            # the listings can still prove the user is listed, never that they are not
            lacking = ", ".join(drift)
            return Classification(
                Outcome.UNRECOGNIZED, _drift_detail(f"most of its {listing_count} listings show no {lacking}")
            )
        return Classification(Outcome.RESULTS, f"{listing_count} listing(s) on the page")
    if no_results:
        return Classification(Outcome.NO_RESULTS, "the site says it has no results")
    if _rate_limited(page, doc):
        return Classification(Outcome.RATE_LIMITED, "the site says we sent too many requests")
    if any(matches(m, page, doc) for m in rule.pages.results):
        # a results page with no listing we can read: the layout changed, so we cannot say
        return Classification(Outcome.UNRECOGNIZED, _drift_detail("a results page, but no listing could be read"))
    if page.status in (401, 403):
        return Classification(Outcome.BLOCKED, f"the site refused the request (HTTP {page.status})")
    if page.status is not None and page.status >= 400:
        return Classification(Outcome.UNRECOGNIZED, f"HTTP {page.status} with a page we do not recognise")
    return Classification(
        Outcome.UNRECOGNIZED, _drift_detail("neither listings nor the site's no-results answer were found")
    )


def _rate_limited(page: Page, doc: Document) -> bool:
    """A "slow down" page that is no listing and no answer: its title says so, or its short text does."""
    if RATE_LIMIT_WORDS.search(doc.title):
        return True
    visible = doc.visible_text()
    return len(visible) < 2000 and RATE_LIMIT_WORDS.search(visible) is not None


def classify_detail(page: Page, doc: Document | None, rule: Rule, listing: Listing, read: bool) -> Classification:
    """Whether a listing's own page is the person's page; `read` says whether the rule's detail fields or
    container were found on it. Anything else (a challenge, a login wall, a "rate limit exceeded" page, a
    redirect to the home page, a page that reads as nothing) is not the site's answer about this listing."""
    if page.failure is not None:
        return Classification(page.failure, page.detail)
    assert doc is not None
    for m in rule.pages.blocked:
        if matches(m, page, doc):
            return Classification(Outcome.BLOCKED, "the site's own block page")
    if not read:
        # a drifted page the rule's selectors miss is still the person's page when it shows their name; a
        # block, login or "slow down" page does not
        names = [ev.value for ev in listing.values.get(ExposureKind.NAME, ())]
        read = bool(names) and fold(names[0]) in fold(doc.visible_text())
    protection = detect_protection(page, doc, weak_allowed=not read)
    if protection:
        return Classification(Outcome.BLOCKED, f"blocked by {protection}")
    if page.status in (401, 403):
        return Classification(Outcome.BLOCKED, f"the site refused the request (HTTP {page.status})")
    if page.status is not None and page.status >= 400:
        return Classification(Outcome.UNRECOGNIZED, f"HTTP {page.status} instead of the person's page")
    asked, landed = urlsplit(page.url), urlsplit(page.final_url)
    if landed.path != asked.path and (landed.path in ("", "/") or _WALL_PATH.search(landed.path)):
        return Classification(
            Outcome.UNRECOGNIZED, f"the site sent us to {landed.path or '/'} instead of the person's page"
        )
    if read:
        return Classification(Outcome.RESULTS, "the person's page")
    if _rate_limited(page, doc):
        return Classification(Outcome.RATE_LIMITED, "the site says we sent too many requests")
    return Classification(
        Outcome.UNRECOGNIZED, _drift_detail("its page for this listing shows none of what the rule reads")
    )
