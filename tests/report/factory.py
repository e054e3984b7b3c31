"""Synthetic scans for report tests: a realistic one, an empty one, and one full of injection payloads.

Every person here is invented (the fixture profile's Jane Marie Testwood), phones are in the
fictional 555-01xx range, emails and sites use the reserved example domains (RFC 2606), and the
street names are made up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from exposure.models import (
    Evidence,
    Exposure,
    ExposureKind,
    Listing,
    OptOut,
    Outcome,
    Query,
    QueryKind,
    QueryRecord,
    ScanResult,
    SiteInfo,
    SiteResult,
    Status,
    Verdict,
)

K = ExposureKind
SCAN_ID = "20261121T104700Z-7f3a"


def exposed(kind: ExposureKind, value: str, yours: bool = True, evidence: str = "", partial: bool = False) -> Exposure:
    mine = yours and not partial
    # as match.py marks them: which of the profile's addresses (current first) a listing's address is
    index = {HOME: 0, OLD_HOME: 1}.get(value) if kind is ExposureKind.ADDRESS and mine else None
    return Exposure(kind, value, mine, evidence or value, partial, profile_index=index)


def verdict(
    url: str,
    values: Iterable[Exposure],
    reasons: Iterable[str] = (),
    *,
    is_user: bool = True,
    namesake: bool = False,
    identifier_exposed: bool = False,
    confidence: float = 0.9,
    text: str = "",
    ignored: bool = False,
    unconfirmed: bool = False,
) -> Verdict:
    values = tuple(values)
    raw: dict[ExposureKind, tuple[Evidence, ...]] = {}
    for e in values:
        raw[e.kind] = (*raw.get(e.kind, ()), Evidence(e.value, e.evidence))
    listing = Listing(url=url, source_url=url, values=raw, text=text or " · ".join(e.value for e in values))
    return Verdict(
        listing=listing,
        is_user=is_user,
        namesake=namesake,
        confidence=confidence,
        reasons=tuple(reasons),
        exposed=values,
        identifier_exposed=identifier_exposed,
        ignored=ignored,
        unconfirmed=unconfirmed,
    )


def query(site: SiteInfo, kind: QueryKind, url: str, outcome: Outcome, label: str = "") -> QueryRecord:
    return QueryRecord(Query(site.id, kind, url, label or f"{kind.value} search"), outcome, 200, "", url)


def site_result(
    info: SiteInfo,
    status: Status,
    *,
    verdicts: Iterable[Verdict] = (),
    reason: Outcome | None = None,
    detail: str = "",
    opt_out: OptOut | None = None,
    queries: Iterable[QueryRecord] | None = None,
    interrupted: bool = False,
) -> SiteResult:
    if queries is None:
        outcome = {Status.FOUND: Outcome.RESULTS, Status.NOT_FOUND: Outcome.NO_RESULTS}.get(
            status, reason or Outcome.ERROR
        )
        queries = (
            query(
                info,
                QueryKind.NAME,
                f"https://www.{info.domain}/search?name=Jane+Testwood&state=IL",
                outcome,
                "name: Jane Testwood in IL",
            ),
            query(
                info, QueryKind.PHONE, f"https://www.{info.domain}/phone/217-555-0142", outcome, "phone: (217) 555-0142"
            ),
        )
    return SiteResult(info, status, reason, detail, tuple(queries), tuple(verdicts), opt_out, interrupted)


def scan(sites: Iterable[SiteResult], **kw: object) -> ScanResult:
    base = ScanResult(
        id=SCAN_ID,
        started_at="2026-11-21T10:47:00+00:00",
        finished_at="2026-11-21T10:49:12+00:00",
        sites=tuple(sites),
        profile_label="Jane Marie Testwood",
        tool_version="0.1.0",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


# --- a realistic scan ------------------------------------------------------------------------------

HOME = "412 N Walnut St Apt 3, Springfield, IL 62702"
OLD_HOME = "88 Lakeview Ter, Evanston, IL 60201"


def demo_scan() -> ScanResult:
    """Twelve invented sites: four list Jane (two share one opt-out), four could not be checked,
    one shows a namesake, the rest do not list her."""
    ledger = SiteInfo(
        "peopleledger",
        "PeopleLedger",
        "peopleledger.example",
        parent="Ledger Data Group",
        sister_sites=("ledgerlookup",),
        manual_url="https://www.peopleledger.example/search",
    )
    lookup = SiteInfo(
        "ledgerlookup",
        "LedgerLookup",
        "ledgerlookup.example",
        parent="Ledger Data Group",
        sister_sites=("peopleledger",),
    )
    caller = SiteInfo("callercheck", "CallerCheck", "callercheck.example")
    homes = SiteInfo("homefinder", "HomeFinder Records", "homefinder.example", parent="Parcel Insights LLC")
    ledger_opt = OptOut(
        url="https://www.peopleledger.example/optout",
        method="web form",
        requires=("the listing's URL", "an email address to confirm", "a captcha"),
        # numbered by the rule, as every bundled rule does: the reports must not number them again
        steps="1. Search for your name on the opt-out page.\n2. Pick your listing and press 'Remove this record'.\n"
        "3. Open the confirmation email and click the link within 24 hours.",
        days=3,
        covers=("ledgerlookup.example",),
    )
    return scan(
        [
            site_result(
                ledger,
                Status.FOUND,
                opt_out=ledger_opt,
                verdicts=[
                    verdict(
                        "https://www.peopleledger.example/person/jane-m-testwood-il/7Q2XK",
                        [
                            exposed(K.NAME, "Jane M Testwood"),
                            exposed(K.AGE, "47", evidence="Age 47"),
                            exposed(K.ADDRESS, HOME, evidence=f"Current address: {HOME}"),
                            exposed(K.ADDRESS, OLD_HOME, evidence=f"Past address: {OLD_HOME}"),
                            exposed(K.PHONE, "(217) 555-0142", evidence="Phone: (217) 555-0142 (landline)"),
                            exposed(K.EMAIL, "jane.testwood@example.com"),
                            exposed(K.EMAIL, "jane.marie.testwood.springfield.household.mail2026@example.com"),
                            exposed(K.RELATIVE, "Robert Testwood", evidence="Related to: Robert Testwood"),
                            exposed(K.RELATIVE, "Marcus Pell", yours=False, evidence="Related to: Marcus Pell"),
                        ],
                        [
                            "The name matches: Jane M Testwood",
                            "Your home address 412 N Walnut St is listed",
                            "Your phone (217) 555-0142 is listed",
                            "The age (47) fits your birth year 1979",
                        ],
                        confidence=0.97,
                    )
                ],
            ),
            site_result(
                lookup,
                Status.FOUND,
                opt_out=replace(ledger_opt, covers=("peopleledger.example",)),
                verdicts=[
                    verdict(
                        "https://ledgerlookup.example/p/jane-testwood/springfield-il",
                        [
                            exposed(K.NAME, "Jane Testwood"),
                            exposed(K.ADDRESS, HOME),
                            exposed(K.AGE, "47"),
                        ],
                        ["The name matches: Jane Testwood", "Your home address 412 N Walnut St is listed"],
                        confidence=0.92,
                    )
                ],
            ),
            site_result(
                caller,
                Status.FOUND,
                opt_out=OptOut(
                    "https://callercheck.example/remove",
                    "web form",
                    ("the phone number", "an email address"),
                    "Enter the phone number, then confirm by email.",
                    days=2,
                ),
                verdicts=[
                    verdict(
                        "https://callercheck.example/217-555-0142",
                        [
                            exposed(K.NAME, "J. Holloway", yours=False),
                            exposed(K.PHONE, "(217) 555-0142", evidence="(217) 555-0142 — registered to J. Holloway"),
                            exposed(K.PHONE, "(312) 555-01XX", partial=True),
                        ],
                        ["Shows your phone (217) 555-0142 under the name J. Holloway"],
                        is_user=False,
                        identifier_exposed=True,
                        confidence=0.55,
                    )
                ],
            ),
            site_result(
                homes,
                Status.FOUND,
                opt_out=OptOut(
                    "https://homefinder.example/privacy/request",
                    "email",
                    ("full name", "the address to suppress"),
                    "Write to the privacy team from the opt-out page's form.",
                    days=30,
                ),
                verdicts=[
                    verdict(
                        "https://homefinder.example/owners/412-n-walnut-st-springfield-il",
                        [exposed(K.NAME, "Jane Testwood"), exposed(K.ADDRESS, HOME), exposed(K.AGE, "40-49")],
                        ["Your home address 412 N Walnut St is listed", "The name matches: Jane Testwood"],
                        confidence=0.88,
                    ),
                    verdict(
                        "https://homefinder.example/owners/19-birch-hollow-rd-peoria-il",
                        [
                            exposed(K.NAME, "Jane Testwood"),  # the name is the user's, as the matcher says
                            exposed(K.ADDRESS, "19 Birch Hollow Rd, Peoria, IL", yours=False),
                            exposed(K.AGE, "71", yours=False),
                        ],
                        ["Same name, but age 71 does not fit your birth year", "No phone, email or address of yours"],
                        is_user=False,
                        namesake=True,
                        confidence=0.1,
                    ),
                ],
            ),
            site_result(
                SiteInfo(
                    "quickpeople", "QuickPeople", "quickpeople.example", manual_url="https://www.quickpeople.example/"
                ),
                Status.COULD_NOT_CHECK,
                reason=Outcome.BLOCKED,
                detail="Cloudflare challenge",
            ),
            site_result(
                SiteInfo("nametrail", "NameTrail", "nametrail.example"),
                Status.COULD_NOT_CHECK,
                reason=Outcome.TIMEOUT,
                detail="no answer after 20 seconds",
            ),
            site_result(
                SiteInfo("voterlens", "VoterLens", "voterlens.example"),
                Status.COULD_NOT_CHECK,
                reason=Outcome.UNRECOGNIZED,
            ),
            site_result(
                SiteInfo("dialdirect", "DialDirect", "dialdirect.example"),
                Status.COULD_NOT_CHECK,
                reason=Outcome.RATE_LIMITED,
                detail="HTTP 429",
            ),
            site_result(
                SiteInfo("opendirectory", "OpenDirectory", "opendirectory.example"),
                Status.NOT_FOUND,
                verdicts=[
                    verdict(
                        "https://opendirectory.example/people/jane-testwood-tx",
                        [exposed(K.NAME, "Jane Testwood", yours=False), exposed(K.LOCATION, "Austin, TX", yours=False)],
                        ["Same name, but lives in Texas and nothing else matches"],
                        is_user=False,
                        namesake=True,
                        confidence=0.05,
                    )
                ],
            ),
            site_result(SiteInfo("findkin", "FindKin", "findkin.example"), Status.NOT_FOUND),
            site_result(SiteInfo("streetroll", "StreetRoll", "streetroll.example"), Status.NOT_FOUND),
            site_result(SiteInfo("mailtrace", "MailTrace", "mailtrace.example"), Status.NOT_FOUND),
        ]
    )


def empty_scan() -> ScanResult:
    """Nothing found anywhere: the report must say so calmly, not look broken."""
    return scan(
        [
            site_result(SiteInfo("findkin", "FindKin", "findkin.example"), Status.NOT_FOUND),
            site_result(SiteInfo("streetroll", "StreetRoll", "streetroll.example"), Status.NOT_FOUND),
        ]
    )


def interrupted_scan() -> ScanResult:
    """Stopped with Ctrl-C after one site: the rest were never checked."""
    demo = demo_scan()
    first, *rest = demo.sites
    stopped = [
        replace(r, status=Status.COULD_NOT_CHECK, reason=None, detail="", verdicts=(), interrupted=True)
        for r in rest[:2]
    ]
    return replace(demo, sites=(first, *stopped), interrupted=True)


# --- hostile input -----------------------------------------------------------------------------------

# Each payload sets window.__pwned if it ever runs; the browser test asserts it never does.
SCRIPT_PAYLOADS: tuple[str, ...] = (
    '<img src=x onerror="window.__pwned=1">',
    '"><script>window.__pwned=2</script>',
    "</script><script>window.__pwned=3</script>",
    '<svg onload="window.__pwned=4"><circle r=9></svg>',
    "'><svg/onload=window.__pwned=5>",
    "</style><script>window.__pwned=6</script>",
    '<iframe srcdoc="<script>parent.__pwned=7</script>"></iframe>',
    "{{7*7}}{% raw %}${7*7}<%= 7*7 %>",
    "<!-- --><details open ontoggle=window.__pwned=8>",
    "&lt;script&gt;window.__pwned=9&lt;/script&gt;",
)
URL_PAYLOADS: tuple[str, ...] = (
    "javascript:window.__pwned=10",
    "java\tscript:window.__pwned=11",
    "JaVaScRiPt:window.__pwned=12",
    " javascript:window.__pwned=13",
    "data:text/html,<script>window.__pwned=14</script>",
    "https://a\\@b.example/",
    "https://user:pass@evil.example/",
    'https://evil.example/"onmouseover="window.__pwned=15',
    "vbscript:msgbox(1)",
    "//evil.example/x",
    "https://evil.example/<script>window.__pwned=16</script>",
)


def payload_scan() -> ScanResult:
    """Every string a page or a rule can put into a report, filled with script and URL tricks."""
    p = SCRIPT_PAYLOADS
    sites: list[SiteResult] = []
    for i, raw_url in enumerate(URL_PAYLOADS):
        pay = p[i % len(p)]
        info = SiteInfo(
            id=f"evil{i}{pay}",
            name=f"Evil {i} {pay}",
            domain=f"evil{i}.example{pay}",
            parent=pay,
            sister_sites=(pay, f"evil{(i + 1) % len(URL_PAYLOADS)}.example"),
            manual_url=raw_url,
        )
        values = [exposed(kind, f"{pay} {kind.value}", evidence=f"evidence {pay}") for kind in K]
        values.append(exposed(K.PHONE, p[(i + 1) % len(p)], yours=False))
        status = (Status.FOUND, Status.COULD_NOT_CHECK, Status.NOT_FOUND)[i % 3]
        sites.append(
            site_result(
                info,
                status,
                reason=Outcome.BLOCKED if status is Status.COULD_NOT_CHECK else None,
                detail=pay,
                verdicts=[
                    verdict(raw_url, values, [f"reason {pay}", p[(i + 2) % len(p)]], text=f"text {pay}"),
                    verdict(raw_url, values[:3], [pay], is_user=False, namesake=True, confidence=0.1),
                ],
                opt_out=OptOut(raw_url, pay, (pay, p[(i + 3) % len(p)]), f"steps {pay}\n{raw_url}", 5, (pay,)),
                queries=[query(info, QueryKind.NAME, raw_url, Outcome.BLOCKED, label=pay)],
            )
        )
    return scan(
        sites,
        id=f"scan{SCRIPT_PAYLOADS[1]}{SCRIPT_PAYLOADS[2]}",
        profile_label=SCRIPT_PAYLOADS[0],
        started_at=SCRIPT_PAYLOADS[2],
        finished_at=URL_PAYLOADS[0],
        tool_version=SCRIPT_PAYLOADS[3],
        interrupted=True,
        extra={"note": SCRIPT_PAYLOADS[4]},
    )


def summary_of(scan_: ScanResult) -> Mapping[str, object]:
    from exposure.report.json_report import summary

    return summary(scan_)
