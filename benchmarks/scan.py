"""Scan benchmark: the real pipeline against a simulated web of people-search sites on 127.0.0.1.

Run by hand from the repository root:

    .venv/bin/python benchmarks/scan.py [--sites 200] [--min-ms 50] [--max-ms 150] [--concurrency auto,64]

Why it looks like this:
- The simulated web runs in its own process, so the CPU it spends is not counted as the client's.
  Every site listens on its own port (a rule's domain is "127.0.0.1:PORT"), as 200 real sites would be
  200 hosts with their own connections. Every answer is held back uniformly 50-150 ms.
- Pages are pre-rendered and gzipped when the server starts, so server CPU never adds to the latency
  during the scan. They are 20-200 KB of realistic markup (inline CSS and JS, navigation, SEO text)
  around the listings, because parsing the bytes is a large part of what the client pays per page.
- Sites differ the way real ones do: four layouts (cards, a table, text lines read with XPath and
  "after"/"before" cuts, JSON-LD), some list the synthetic person among namesakes, some list only
  namesakes, some answer "no results"; a few need a detail hop, a few put the person on page 2.
- The least time the politeness settings allow is computed per site from the number of requests the
  server actually received, the rule's delay between request starts, its concurrency and the mean
  server latency; the scan can never beat the slowest site. wall / least near 1 means the client is
  not the bottleneck.
- "last site asked" names the site whose last request reached the server last, with when its first and last
  requests came: a late first request means it waited for the scan's request slots, an early one that its own
  chain of pages (or the analysis) held it up.
- The benchmark checks its own answer: sites that list the person must come out `found`, the others
  `not_found`. A fast wrong scan is not a result.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gzip
import io
import json
import math
import multiprocessing
import os
import pstats
import random
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing the package

from exposure.fetch import FetchSettings  # noqa: E402
from exposure.models import ScanResult, Status  # noqa: E402
from exposure.pipeline import ScanOptions, scan  # noqa: E402
from exposure.profile import Profile, load_profile  # noqa: E402
from exposure.rules import Rule, load_rules  # noqa: E402

PROFILE_PATH = ROOT / "tests" / "fixtures" / "profiles" / "default.toml"
LAYOUTS = ("cards", "table", "lines", "jsonld")
BIRTH_YEAR = 1979  # the fixture profile's; the person's listing shows an age that fits it

# ----------------------------------------------------------------- the simulated web: what each site is


@dataclass(frozen=True)
class SiteSpec:
    """One simulated site. Passed to the server process as a dict, so it must stay plain data."""

    index: int
    kind: str  # "listed" (the person is there), "namesakes" (other people of that name), "none"
    layout: str
    detail: bool  # cards show name and place only; age, phones and address are one hop away
    next_page: bool  # the person's listing is on page 2 of the name search
    name_any: bool  # also searches the name without a place
    phone: bool
    email: bool
    email_lists_user: bool
    page_kb: int  # results pages are about this big; no-results and detail pages smaller
    namesakes: int
    no_results_status: int

    @property
    def site_id(self) -> str:
        return f"bench-{self.index:03d}"

    @property
    def expected(self) -> Status:
        return Status.FOUND if self.kind == "listed" else Status.NOT_FOUND


def make_specs(n: int, seed: int) -> list[SiteSpec]:
    rng = random.Random(seed)
    specs = []
    for i in range(n):
        kind = rng.choices(("listed", "namesakes", "none"), weights=(40, 25, 35))[0]
        layout = LAYOUTS[i % len(LAYOUTS)]
        detail = layout != "jsonld" and rng.random() < 0.15
        next_page = kind == "listed" and layout != "jsonld" and not detail and rng.random() < 0.12
        specs.append(
            SiteSpec(
                index=i,
                kind=kind,
                layout=layout,
                detail=detail,
                next_page=next_page,
                name_any=rng.random() < 0.5,
                phone=rng.random() < 0.6,
                email=rng.random() < 0.4,
                email_lists_user=rng.random() < 0.5,
                page_kb=rng.randint(20, 200),
                # detail sites visit every namesake that carries one of the person's names: keep it plausible
                namesakes=rng.randint(2, 6) if detail else rng.randint(2, 15),
                no_results_status=404 if rng.random() < 0.3 else 200,
            )
        )
    return specs


# ----------------------------------------------------------------- pages

WORDS = (
    "people", "search", "public", "records", "background", "report", "address", "history", "phone", "lookup",
    "reverse", "directory", "county", "court", "property", "owner", "neighborhood", "relatives", "associates",
    "verified", "updated", "instant", "accurate", "premium", "members", "contact", "privacy", "terms", "help",
    "about", "careers", "press", "national", "database", "sources", "listing", "profile", "timeline", "education",
    "employment", "social", "media", "results", "filter", "sort", "nearby", "cities", "states", "popular", "names",
    "surname", "family", "tree", "marriage", "licenses", "business", "owners", "professional", "vehicles", "boats",
    "aircraft", "more",
)
CITIES = (("Tucson", "AZ"), ("Portland", "OR"), ("Albany", "NY"), ("Boise", "ID"), ("Raleigh", "NC"),
          ("Dayton", "OH"), ("Fresno", "CA"), ("Austin", "TX"), ("Reno", "NV"), ("Tacoma", "WA"))
AREA_CODES = ("520", "503", "518", "208", "919", "937", "559", "512", "775", "253")
STREETS = ("Quillmore Ave", "Brackenridge Rd", "Fennimore Ct", "Larkspur Way", "Oxbury Ln", "Tamsin Dr")
GIVEN: dict[str, tuple[str, ...]] = {
    # the first few carry one of the person's names, so the pipeline must tell them apart by place and age
    "Testwood": ("Jane", "Jane A", "Janie", "Jane R", "Mark", "Alice", "Tomas", "Nora", "Priya", "Owen"),
    "Holloway": ("Jane", "Jane K", "Janie", "Mara", "Hugo", "Lena", "Felix", "Ruth", "Ines", "Carl"),
}
NAME_MATCHING_GIVEN = 4


@dataclass(frozen=True)
class Person:
    key: str  # "u" for the person, "n3" for a namesake: their detail page is /person/<key>
    name: str
    age: int
    city: str
    state: str
    phone: str
    address: str
    relative: str


def the_person(today: date) -> Person:
    return Person("u", "Jane M Testwood", today.year - BIRTH_YEAR, "Springfield", "IL", "(217) 555-0142",
                  "412 N Walnut St Apt 3, Springfield, IL 62702", "Robert Testwood")


def namesakes(spec: SiteSpec, surname: str, rng: random.Random) -> list[Person]:
    out = []
    for k in range(spec.namesakes):
        pool = GIVEN[surname]
        if spec.detail:  # two namesakes worth a detail visit; the rest are strangers the pipeline skips
            pool = GIVEN[surname][:NAME_MATCHING_GIVEN] if k < 2 else GIVEN[surname][NAME_MATCHING_GIVEN:]
        city, state = rng.choice(CITIES)
        area = AREA_CODES[CITIES.index((city, state))]
        age = rng.choice((rng.randint(19, 38), rng.randint(58, 88)))  # never within a year of the person's
        house = rng.randint(10, 9999)
        out.append(Person(f"{surname[0].lower()}{k}", f"{rng.choice(pool)} {surname}", age, city, state,
                          f"({area}) 555-01{rng.randint(0, 99):02d}",
                          f"{house} {rng.choice(STREETS)}, {city}, {state} {rng.randint(10000, 99999)}",
                          f"{rng.choice(GIVEN[surname][4:])} {surname}"))
    return out


class Filler:
    """Realistic non-listing markup (style, script, navigation, SEO text) of a given size.

    Built from a pool of random chunks rather than fresh text per page: generating 300 MB of random
    words would dominate the start-up, while shuffled chunks still compress like real pages (3-5x).
    """

    def __init__(self, rng: random.Random) -> None:
        self.style = [self._style(rng) for _ in range(24)]
        self.script = [self._script(rng) for _ in range(48)]
        self.text = [self._text(rng) for _ in range(48)]

    @staticmethod
    def _style(rng: random.Random) -> str:
        return "".join(
            f".c{rng.randint(0, 9999)} .{rng.choice(WORDS)}{{margin:{rng.randint(0, 40)}px {rng.randint(0, 40)}px;"
            f"color:#{rng.randint(0, 0xFFFFFF):06x};font-size:{rng.randint(10, 24)}px}}\n"
            for _ in range(40)
        )

    @staticmethod
    def _script(rng: random.Random) -> str:
        data = {rng.choice(WORDS) + str(i): [rng.choice(WORDS) for _ in range(6)] for i in range(40)}
        return f"window.__cfg_{rng.randint(0, 99999)} = {json.dumps(data)};\nfunction t(e){{return e&&e.id}}\n"

    @staticmethod
    def _text(rng: random.Random) -> str:
        links = "".join(f'<li><a href="/directory/{rng.choice(WORDS)}-{rng.choice(WORDS)}">'
                        f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()}</a></li>" for _ in range(12))
        para = " ".join(rng.choice(WORDS) for _ in range(90)).capitalize()
        return (f'<section class="seo"><h3>{rng.choice(WORDS).title()} {rng.choice(WORDS)}</h3><p>{para}.</p>'
                f'<ul class="links">{links}</ul></section>\n')

    def around(self, rng: random.Random, size: int) -> tuple[str, str, str]:
        """Head markup, markup before the results and after them, together about `size` characters."""
        head: list[str] = []
        top: list[str] = []
        bottom: list[str] = []
        budget = size
        while budget > 0:
            r = rng.random()
            if r < 0.15:
                piece = f"<style>{rng.choice(self.style)}</style>\n"
                head.append(piece)
            elif r < 0.5:
                piece = f"<script>{rng.choice(self.script)}</script>\n"
                (head if rng.random() < 0.5 else bottom).append(piece)
            else:
                piece = rng.choice(self.text)
                (top if rng.random() < 0.3 else bottom).append(piece)
            budget -= len(piece)
        return "".join(head), "".join(top), "".join(bottom)


def _card(spec: SiteSpec, p: Person) -> str:
    """One listing in the site's layout. Detail sites show only name and place: the rest is one hop away."""
    link = f"/person/{p.key}"
    if spec.layout == "cards":
        extra = "" if spec.detail else (f'<span class="age">Age {p.age}</span>'
                                         f'<ul class="phones"><li>{p.phone}</li></ul>')
        more = f'<a class="more" href="{link}">View details</a>' if spec.detail else ""
        return (f'<div class="card"><h2 class="name">{p.name}</h2>{extra}'
                f'<div class="loc">{p.city}, {p.state}</div>{more}</div>\n')
    if spec.layout == "table":
        age = "" if spec.detail else str(p.age)
        phone = "" if spec.detail else p.phone
        more = f'<a href="{link}">Details</a>' if spec.detail else ""
        return (f'<tr class="hit"><td class="n">{p.name}</td><td class="a">{age}</td>'
                f'<td class="l">{p.city}, {p.state}</td><td class="p">{phone}</td><td class="d">{more}</td></tr>\n')
    if spec.layout == "lines":
        age = "" if spec.detail else f" | Age: {p.age}"
        phones = "" if spec.detail else f'<p class="ph">Phone numbers: {p.phone}</p>'
        more = f'<a class="view" href="{link}">Full report</a>' if spec.detail else ""
        return (f'<section class="person"><p class="line">Name: {p.name}{age} | Lives in: {p.city}, {p.state}</p>'
                f"{phones}{more}</section>\n")
    # jsonld: the visible tiles are decoration; the rule reads the JSON
    return f'<div class="tile"><b>{p.name}</b> {p.city}, {p.state}</div>\n'


def _jsonld(people: list[Person]) -> str:
    items = [
        {"@type": "ListItem", "position": i + 1,
         "item": {"@type": "Person", "name": p.name, "age": p.age, "telephone": [p.phone],
                  "address": {"@type": "PostalAddress", "addressLocality": p.city, "addressRegion": p.state},
                  "url": f"/person/{p.key}"}}
        for i, p in enumerate(people)
    ]
    data = {"@context": "https://schema.org", "@type": "ItemList", "itemListElement": items}
    return f'<script type="application/ld+json">{json.dumps(data)}</script>\n'


def _results(spec: SiteSpec, people: list[Person], title: str, next_link: bool, filler: tuple[str, str, str]) -> str:
    head, top, bottom = filler
    rows = "".join(_card(spec, p) for p in people)
    if spec.layout == "table":
        rows = f'<table class="results"><thead><tr><th>Name</th><th>Age</th></tr></thead><tbody>{rows}</tbody></table>'
    nxt = '<a class="next" href="?page=2">Next page</a>' if next_link else ""
    embedded = _jsonld(people) if spec.layout == "jsonld" else ""
    return (f"<!doctype html><html><head><title>{title} | Bench Site {spec.index}</title>{head}{embedded}</head>"
            f'<body><nav class="top">{top}</nav><main><h1>{len(people)} people found</h1>'
            f'<div class="results">{rows}</div>{nxt}</main><footer>{bottom}</footer></body></html>')


def _no_results(spec: SiteSpec, filler: tuple[str, str, str]) -> str:
    head, top, bottom = filler
    title = "No matches" if spec.layout == "jsonld" else "Search"
    notice = {
        "cards": '<div id="no-results">We could not find anyone by that name.</div>',
        "table": '<p class="empty">No records found for your search.</p>',
        "lines": '<div class="zero">0 people match your search</div>',
        "jsonld": "<p>Try another spelling.</p>",
    }[spec.layout]
    return (f"<!doctype html><html><head><title>{title} | Bench Site {spec.index}</title>{head}</head>"
            f'<body><nav class="top">{top}</nav><main>{notice}</main><footer>{bottom}</footer></body></html>')


def _detail(spec: SiteSpec, p: Person, filler: tuple[str, str, str]) -> str:
    head, top, bottom = filler
    return (f"<!doctype html><html><head><title>{p.name} | Bench Site {spec.index}</title>{head}</head>"
            f'<body><nav class="top">{top}</nav><main><div class="profile"><h1>{p.name}</h1>'
            f'<span class="age">Age {p.age}</span><ul class="phones"><li>{p.phone}</li></ul>'
            f'<div class="addr">{p.address}</div><div class="rel">{p.relative}</div></div></main>'
            f"<footer>{bottom}</footer></body></html>")


def render_site(spec: SiteSpec, today: date, filler: Filler, seed: int) -> dict[str, tuple[int, str]]:
    """Every page the site can answer with, by page key (see `page_key`): status and HTML."""
    rng = random.Random(f"{seed}:{spec.index}")
    size = spec.page_kb * 1024

    def around(share: float) -> tuple[str, str, str]:
        return filler.around(rng, max(20 * 1024, int(size * share)) - 2048)

    me = the_person(today)
    testwoods = namesakes(spec, "Testwood", rng)
    holloways = namesakes(spec, "Holloway", rng)
    pages: dict[str, tuple[int, str]] = {"no": (spec.no_results_status, _no_results(spec, around(0.6)))}
    if spec.kind == "none":
        return pages
    at = rng.randint(0, len(testwoods))
    with_me = [*testwoods[:at], me, *testwoods[at:]]
    pages["holloway"] = (200, _results(spec, holloways, "Jane Holloway", False, around(1.0)))
    if spec.kind == "namesakes":
        pages["testwood"] = (200, _results(spec, testwoods, "Jane Testwood", False, around(1.0)))
    elif spec.next_page:
        half = len(testwoods) // 2
        pages["testwood"] = (200, _results(spec, testwoods[:half], "Jane Testwood", True, around(1.0)))
        pages["testwood:2"] = (200, _results(spec, [me, *testwoods[half:]], "Jane Testwood", False, around(1.0)))
    else:
        pages["testwood"] = (200, _results(spec, with_me, "Jane Testwood", False, around(1.0)))
    if spec.kind == "listed":
        pages["me"] = (200, _results(spec, [me], "Search", False, around(0.8)))
    if spec.detail:
        for p in (me, *testwoods, *holloways):
            pages[f"person:{p.key}"] = (200, _detail(spec, p, around(0.5)))
    return pages


PROFILE_PHONES = ("2175550142", "3125550188")


def page_key(spec: SiteSpec, path: str, query: dict[str, str]) -> str:
    """Which pre-rendered page answers a request. Unknown keys fall back to the no-results page."""
    parts = path.strip("/").split("/")
    if parts[0] == "person" and len(parts) == 2:
        return f"person:{parts[1]}"
    if parts[0] == "search" and len(parts) >= 3 and parts[1] in ("name", "people"):
        surname = parts[2].replace("_", "-").rsplit("-", 1)[-1]
        if surname == "testwood":
            return "testwood:2" if query.get("page") == "2" else "testwood"
        if surname == "holloway":
            return "holloway"
        return "no"
    if parts[0] == "search" and len(parts) == 3 and parts[1] == "phone":
        return "me" if parts[2] in PROFILE_PHONES else "no"
    if parts[0] == "search" and parts[-1] == "email":
        return "me" if spec.email_lists_user else "no"
    return "no"


# ----------------------------------------------------------------- the server process


_REASONS = {200: b"OK", 404: b"Not Found", 500: b"Internal Server Error"}
# the answer's head up to its length, per (status, gzipped)
HEADS = {
    (status, gz): b"HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n%s"
    b"Content-Length: " % (status, reason, b"Content-Encoding: gzip\r\n" if gz else b"")
    for status, reason in _REASONS.items()
    for gz in (True, False)
}


class _SiteProtocol(asyncio.Protocol):
    """One connection to one simulated site: HTTP/1.1 GET requests in, pre-rendered pages out, each held back by
    the site's latency, in order, over a kept-alive connection.

    A plain protocol rather than aiohttp's web server: the simulated web shares the machine's cores with the
    scan under test, and aiohttp's server spent 0.40-0.46 ms of CPU per request, a tenth of all CPU a 500-site
    run uses. Real sites' servers do not run on the scanning machine."""

    def __init__(self, spec: SiteSpec, answer: Callable[[SiteSpec, str, float], bytes], latency: Callable[[], float]):
        self._spec = spec
        self._answer = answer
        self._latency = latency
        self._buffer = b""
        # requests read, not yet answered: (target, close after, arrival time)
        self._waiting: list[tuple[str, bool, float]] = []
        self._busy = False
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            head, self._buffer = self._buffer[:end].decode("latin-1"), self._buffer[end + 4 :]
            request_line, _, headers = head.partition("\r\n")
            target = request_line.split(" ")[1] if request_line.count(" ") >= 2 else "/"
            self._waiting.append((target, "connection: close" in headers.lower(), time.monotonic()))
        self._next()

    def _next(self) -> None:
        if not self._busy and self._waiting and self._transport is not None:
            self._busy = True
            asyncio.get_running_loop().call_later(self._latency(), self._reply)

    def _reply(self) -> None:
        self._busy = False
        target, close, arrived = self._waiting.pop(0)
        if self._transport is None or self._transport.is_closing():
            return
        self._transport.write(self._answer(self._spec, target, arrived))
        if close:
            self._transport.close()
            return
        self._next()


def serve(specs: list[dict[str, Any]], today: str, min_ms: float, max_ms: float, gzip_pages: bool, seed: int,
          conn: Connection) -> None:
    """Entry point of the server process: render every page, listen, report ports, serve until /quit."""
    asyncio.run(_serve([SiteSpec(**s) for s in specs], date.fromisoformat(today), min_ms, max_ms, gzip_pages,
                       seed, conn))


async def _serve(specs: list[SiteSpec], today: date, min_ms: float, max_ms: float, gzip_pages: bool, seed: int,
                 conn: Connection) -> None:
    from aiohttp import web

    filler = Filler(random.Random(seed))
    pages: dict[int, dict[str, tuple[int, bytes, int]]] = {}
    for spec in specs:
        rendered = render_site(spec, today, filler, seed)
        pages[spec.index] = {
            k: (status, gzip.compress(html.encode(), 6) if gzip_pages else html.encode(), len(html))
            for k, (status, html) in rendered.items()
        }
    rng = random.Random(seed + 1)
    by_port: dict[int, SiteSpec] = {}
    counts: dict[int, int] = Counter()
    statuses: Counter[int] = Counter()
    raw_bytes = [0]
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    done = asyncio.Event()

    def answer(spec: SiteSpec, target: str, arrived: float) -> bytes:
        counts[spec.index] += 1
        first.setdefault(spec.index, arrived)
        last[spec.index] = arrived
        parts = urlsplit(target)
        key = page_key(spec, unquote(parts.path), dict(parse_qsl(parts.query)))
        status, body, size = pages[spec.index].get(key) or pages[spec.index]["no"]
        statuses[status] += 1
        raw_bytes[0] += size
        return b"".join((HEADS[status, gzip_pages], str(len(body)).encode(), b"\r\n\r\n", body))

    async def stats(request: web.Request) -> web.StreamResponse:
        return web.json_response({
            "requests": {str(i): n for i, n in counts.items()},
            "first": {str(i): t for i, t in first.items()},
            "last": {str(i): t for i, t in last.items()},
            "statuses": {str(s): n for s, n in statuses.items()},
            "html_bytes": raw_bytes[0],
        })

    async def reset(request: web.Request) -> web.StreamResponse:
        counts.clear()
        statuses.clear()
        first.clear()
        last.clear()
        raw_bytes[0] = 0
        return web.Response(text="ok")

    async def quit_(request: web.Request) -> web.StreamResponse:
        done.set()
        return web.Response(text="bye")

    control = web.Application()
    control.router.add_get("/stats", stats)
    control.router.add_post("/reset", reset)
    control.router.add_post("/quit", quit_)
    control_runner = web.AppRunner(control, access_log=None)
    await control_runner.setup()
    loop = asyncio.get_running_loop()
    servers = []
    for spec in specs:
        server = await loop.create_server(
            lambda spec=spec: _SiteProtocol(spec, answer, lambda: rng.uniform(min_ms, max_ms) / 1000),  # type: ignore[misc]
            "127.0.0.1", 0, backlog=512,
        )
        servers.append(server)
        by_port[server.sockets[0].getsockname()[1]] = spec
    ctl = web.TCPSite(control_runner, "127.0.0.1", 0)
    await ctl.start()
    ports = {spec.index: port for port, spec in by_port.items()}
    conn.send({"ports": ports, "control": ctl._server.sockets[0].getsockname()[1]})  # type: ignore[union-attr]
    await done.wait()
    await asyncio.sleep(0.1)  # let the /quit answer leave
    for server in servers:
        server.close()
    await control_runner.cleanup()


# ----------------------------------------------------------------- rules


def rule_toml(spec: SiteSpec, port: int) -> str:
    """The site's rule, written the way a contributor would: different selectors per layout."""
    base = f"http://127.0.0.1:{port}"
    lines = [
        f'id = "{spec.site_id}"',
        f'name = "Bench Site {spec.index}"',
        f'domain = "127.0.0.1:{port}"',
        f'manual_url = "{base}/"',
        f'tags = ["benchmark", "{spec.layout}"]',
        "# delay and concurrency are left at their defaults (0.5 s, 2): the politeness under test",
        "",
        "[[searches]]",
        'kind = "name"',
        f'url = "{base}/search/name/{{first|lower|slug}}-{{last|lower|slug}}/{{state|lower}}"',
    ]
    if spec.name_any:
        lines.append(f'url_without_location = "{base}/search/people/{{full|slug:_|lower}}"')
    if spec.phone:
        lines += ["", "[[searches]]", 'kind = "phone"', f'url = "{base}/search/phone/{{phone}}"']
    if spec.email:
        lines += ["", "[[searches]]", 'kind = "email"', f'url = "{base}/search/email?q={{email|urlencode}}"']
    lines += ["", "[[pages.no_results]]"]
    lines.append({
        "cards": 'selector = "#no-results"',
        "table": 'text = ["No records found"]',
        "lines": 'selector = "//div[@class=\'zero\']"',
        "jsonld": 'title = ["No matches"]',
    }[spec.layout])
    lines += ["", "[extract]"]
    if spec.layout == "cards":
        lines += ['listing = "div.card"', "[extract.fields]", 'name = "h2.name"', 'age = ".age"',
                  'location = ".loc"', 'phones = ".phones li"']
        link = "a.more@href"
    elif spec.layout == "table":
        lines += ['listing = "table.results tr.hit"', "[extract.fields]", 'name = "td.n"', 'age = "td.a"',
                  'location = "td.l"', 'phones = "td.p"']
        link = "td.d a@href"
    elif spec.layout == "lines":
        lines += [
            "listing = \"//section[@class='person']\"",
            "[extract.fields]",
            'name = { selector = "p.line", after = "Name:", before = "|" }',
            'age = { selector = "p.line", after = "Age:", before = "|" }',
            'location = { selector = "p.line", after = "Lives in:" }',
            'phones = { selector = "p.ph", after = "Phone numbers:", split = "," }',
        ]
        link = "a.view@href"
    else:
        lines += [
            "[extract.embedded]",
            "script = \"script[type='application/ld+json']\"",
            'listings = "itemListElement[].item"',
            'link = "url"',
            "[extract.embedded.fields]",
            'name = "name"',
            'age = "age"',
            'phones = "telephone"',
            "location = \"join(', ', [address.addressLocality, address.addressRegion])\"",
        ]
        link = ""
    if spec.detail:
        lines += ["", "[extract.detail]", f'link = "{link}"',
                  'fields = { age = ".age", phones = ".phones li", addresses = ".addr", relatives = ".rel" }']
    if spec.next_page:
        lines += ["", "[extract.next_page]", 'selector = "a.next"', "max_pages = 2"]
    lines += ["", "[opt_out]", f'url = "{base}/optout"', 'method = "web form"', 'requires = ["listing URL"]']
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------- measuring


def least_time(requests: int, delay: float, concurrency: int, latency: float) -> float:
    """The soonest a site's requests can all be answered under its gate (exposure.fetch.SiteGate).

    Starts are at least `delay` apart and at most `concurrency` are in flight, each taking `latency`.
    Follow-up requests (detail, next page) are treated as if known from the start, so this is a lower bound.
    """
    ends: list[float] = []
    start = 0.0
    for k in range(requests):
        if k:
            start += delay
        if k >= concurrency:
            start = max(start, ends[k - concurrency])
        ends.append(start + latency)
    return ends[-1] if ends else 0.0


T = TypeVar("T")


def _meter_main(root: int, exclude: list[int], interval: float, conn: Connection) -> None:
    """The meter's own process: samples the scanning process's tree until told to stop, then reports."""
    import psutil

    me = psutil.Process(root)
    skip = {*exclude, os.getpid()}
    peak = 0
    seen: dict[int, float] = {}  # pid -> CPU seconds of each child at its last sample
    conn.send("ready")
    while not conn.poll(interval):
        total = 0
        try:
            kids = [p for p in me.children(recursive=True) if p.pid not in skip]
        except psutil.Error:
            kids = []
        for p in [me, *kids]:
            try:
                # PSS: pages shared between the forkserver and the workers it forked counted once, not once per
                # process as RSS would
                total += p.memory_full_info().pss
                if p.pid != root:
                    t = p.cpu_times()
                    seen[p.pid] = t.user + t.system
            except psutil.Error:
                continue
        peak = max(peak, total)
    conn.send((peak, sum(seen.values())))


class Meter:
    """CPU and memory of the scanning process and of its workers (the analysis processes and the forkserver
    they come from), sampled while the scan runs; the simulated web's process is left out.

    It samples from a process of its own: as a thread of the scanning process, reading every process's memory
    map five times a second cost 0.08 s of CPU a second, which was counted as the client's (0.2 ms per request
    at 1,000 sites) and taken from the event loop's share of the interpreter."""

    def __init__(self, exclude: set[int], interval: float = 0.2) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_meter_main, args=(os.getpid(), sorted(exclude), interval, child),
                                 daemon=True)
        self.peak_rss = 0  # of the whole tree, as PSS
        self._worker_cpu = 0.0

    def __enter__(self) -> Meter:
        self._proc.start()
        self._conn.recv()  # sampling from the first moment of the scan
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        if self._conn.poll(30):
            self.peak_rss, self._worker_cpu = self._conn.recv()
        self._proc.join(5)

    def worker_cpu(self) -> float:
        """CPU seconds of every worker process seen during the scan (from their last sample)."""
        return self._worker_cpu


class LoopLag:
    """How late the event loop wakes a task that sleeps 10 ms: the share of time the loop was blocked."""

    def __init__(self) -> None:
        self.lags: list[float] = []

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            t0 = loop.time()
            await asyncio.sleep(0.01)
            self.lags.append(max(0.0, loop.time() - t0 - 0.01))

    def p99_ms(self) -> float:
        if not self.lags:
            return 0.0
        ordered = sorted(self.lags)
        return 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


@dataclass
class RunResult:
    sites: int
    concurrency: int
    wall: float
    least: float
    slowest_site: str
    last_site: str  # the site whose last request came last, and when its first and last requests came
    requests: int
    server_requests: int
    cpu: float  # the scanning process itself: the event loop and the HTTP client
    worker_cpu: float  # the analysis processes
    server_cpu: float  # the simulated web, on the same cores: what is left of the machine for the client
    lag_p99_ms: float
    peak_rss_mb: float
    site_status: dict[str, int]
    outcomes: dict[str, int]
    http_status: dict[str, int]
    html_mb: float
    wrong: list[str]

    @property
    def ratio(self) -> float:
        return self.wall / self.least if self.least else float("nan")


def _http(url: str, method: str = "GET") -> bytes:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=10) as resp:  # our own server on 127.0.0.1
        data: bytes = resp.read()
        return data


def run_once(profile: Profile, rules: list[Rule], specs: list[SiteSpec], control: str, concurrency: int,
             today: date, latency: float, profiler: cProfile.Profile | None, server_pid: int) -> RunResult:
    _http(f"{control}/reset", "POST")
    options = ScanOptions(fetch=FetchSettings(concurrency=concurrency), today=today)  # 0: the scan's own choice
    lag = LoopLag()

    started = [0.0]

    async def timed() -> tuple[ScanResult, float, float]:
        stop = asyncio.Event()
        probe = asyncio.create_task(lag.run(stop))
        c0, t0 = time.process_time(), time.perf_counter()
        started[0] = time.monotonic()  # the server's clock: its `first` and `last` are time.monotonic()
        result = await scan(profile, rules, options)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        stop.set()
        await probe
        return result, wall, cpu

    import psutil

    server = psutil.Process(server_pid) if server_pid else None
    s0 = sum(server.cpu_times()[:2]) if server else 0.0
    with Meter(exclude={server_pid}) as meter:
        if profiler is not None:
            profiler.enable()
        result, wall, cpu = asyncio.run(timed())
        if profiler is not None:
            profiler.disable()
    server_cpu = sum(server.cpu_times()[:2]) - s0 if server else 0.0
    stats = json.loads(_http(f"{control}/stats"))
    by_id = {r.id: r for r in rules}
    least, slowest = 0.0, ""
    for spec in specs:
        rule = by_id[spec.site_id]
        n = stats["requests"].get(str(spec.index), 0)
        t = least_time(n, rule.delay, rule.concurrency, latency)
        if t > least:
            least, slowest = t, f"{spec.site_id} ({n} requests)"
    # the site that finished last, and whether it started late (waited for slots) or took long (its own chain)
    last_index = max(stats["last"], key=stats["last"].get, default=None)
    last_site = ""
    if last_index is not None:
        spec = next(s for s in specs if str(s.index) == last_index)
        first_at, last_at = stats["first"][last_index] - started[0], stats["last"][last_index] - started[0]
        last_site = (f"{spec.site_id} ({stats['requests'][last_index]} requests, the first {first_at:.2f} s "
                     f"and the last {last_at:.2f} s after the start)")
    expected = {s.site_id: s.expected for s in specs}
    wrong = [f"{s.site.id}: {s.status} ({s.reason or ''} {s.detail}), expected {expected[s.site.id]}"
             for s in result.sites if s.status is not expected[s.site.id]]
    return RunResult(
        sites=len(specs),
        concurrency=int(result.extra.get("concurrency", concurrency)),
        wall=wall,
        least=least,
        slowest_site=slowest,
        last_site=last_site,
        requests=int(result.extra.get("requests", "0")),
        server_requests=sum(stats["requests"].values()),
        cpu=cpu,
        worker_cpu=meter.worker_cpu(),
        server_cpu=server_cpu,
        lag_p99_ms=lag.p99_ms(),
        peak_rss_mb=meter.peak_rss / 2**20,
        site_status=dict(Counter(str(s.status) for s in result.sites)),
        outcomes=dict(Counter(str(q.outcome) for s in result.sites for q in s.queries)),
        http_status=stats["statuses"],
        html_mb=stats["html_bytes"] / 1e6,
        wrong=wrong,
    )


def print_table(runs: list[RunResult], min_ms: float, max_ms: float) -> None:
    print(f"\nserver latency {min_ms:g}-{max_ms:g} ms, per-site delay and concurrency from the rules")
    head = (f"{'sites':>5} {'conc':>4} {'requests':>8} {'wall s':>7} {'least s':>7} {'wall/least':>10} {'req/s':>6} "
            f"{'loop ms/req':>11} {'client ms/req':>13} {'lag p99 ms':>10} {'peak PSS MB':>11} {'found/not/cnc':>14} "
            f"{'correct':>7}")
    print(head)
    print("-" * len(head))
    for r in runs:
        st = r.site_status
        verdicts = f"{st.get('found', 0)}/{st.get('not_found', 0)}/{st.get('could_not_check', 0)}"
        n = max(r.requests, 1)
        print(f"{r.sites:>5} {r.concurrency:>4} {r.requests:>8} {r.wall:>7.2f} {r.least:>7.2f} {r.ratio:>10.2f} "
              f"{r.requests / r.wall:>6.0f} {1000 * r.cpu / n:>11.2f} {1000 * (r.cpu + r.worker_cpu) / n:>13.2f} "
              f"{r.lag_p99_ms:>10.1f} {r.peak_rss_mb:>11.0f} {verdicts:>14} {'yes' if not r.wrong else 'NO':>7}")
    for r in runs:
        print(f"\n{r.sites} sites, concurrency {r.concurrency}: slowest site {r.slowest_site}; server saw "
              f"{r.server_requests} requests, {r.html_mb:.0f} MB of HTML before gzip; analysis "
              f"{1000 * r.worker_cpu / max(r.requests, 1):.2f} ms CPU per request in the workers, "
              f"{r.html_mb / max(r.worker_cpu, 1e-9):.0f} MB/s of HTML per core")
        print(f"  last site asked: {r.last_site}")
        # the other bound: no more than `concurrency` requests in flight, each taking the mean latency at least
        slots = r.server_requests * (min_ms + max_ms) / 2000 / r.concurrency
        print(f"  least the global limit of {r.concurrency} requests in flight allows: {slots:.2f} s "
              f"(wall / that {r.wall / slots:.2f})")
        busy = (r.cpu + r.worker_cpu + r.server_cpu) / r.wall
        print(f"  cores busy on average: {busy:.2f} of {os.cpu_count()} (client {(r.cpu + r.worker_cpu) / r.wall:.2f}, "
              f"simulated web {r.server_cpu / r.wall:.2f}, {1000 * r.server_cpu / max(r.server_requests, 1):.2f} ms "
              "per request)")
        print(f"  page outcomes: {dict(sorted(r.outcomes.items()))}; "
              f"HTTP statuses: {dict(sorted(r.http_status.items()))}")
        for line in r.wrong[:10]:
            print(f"  WRONG {line}")


def spec_rules(specs: list[SiteSpec], port: Callable[[SiteSpec], int]) -> list[Rule]:
    """The simulated sites' rules, loaded as `exposure scan` loads a rules folder (validation included)."""
    with tempfile.TemporaryDirectory(prefix="exposure-bench-") as tmp:
        for spec in specs:
            (Path(tmp) / f"{spec.site_id}.toml").write_text(rule_toml(spec, port(spec)))
        return load_rules([Path(tmp)])


def bench(n: int, args: argparse.Namespace, profile: Profile, today: date,
          profiler: cProfile.Profile | None) -> list[RunResult]:
    """Start a simulated web of n sites, scan it once per concurrency limit, stop it."""
    specs = make_specs(n, args.seed)
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    t0 = time.perf_counter()
    server = ctx.Process(
        target=serve,
        args=([asdict(s) for s in specs], today.isoformat(), args.min_ms, args.max_ms, not args.no_gzip, args.seed,
              child),
        daemon=True,
    )
    server.start()
    try:
        if not parent.poll(600):
            raise SystemExit("the simulated web did not start within 600 s")
        info = parent.recv()
        control = f"http://127.0.0.1:{info['control']}"
        print(f"simulated web: {n} sites ready in {time.perf_counter() - t0:.1f} s (server pid {server.pid})")
        kinds = Counter(s.kind for s in specs)
        print(f"  {dict(kinds)}; layouts {dict(Counter(s.layout for s in specs))}; "
              f"{sum(s.detail for s in specs)} with a detail hop, {sum(s.next_page for s in specs)} with page 2")
        rules = spec_rules(specs, lambda spec: info["ports"][spec.index])
        runs = []
        for conc in (0 if c == "auto" else int(c) for c in args.concurrency.split(",")):
            run = run_once(profile, rules, specs, control, conc, today, (args.min_ms + args.max_ms) / 2000, profiler,
                           server.pid or 0)
            runs.append(run)
            print(f"  {n} sites, concurrency {conc}: {run.wall:.2f} s")
        _http(f"{control}/quit", "POST")
        server.join(10)
        return runs
    finally:
        if server.is_alive():
            server.terminate()
            server.join(5)


def reference_pages(
    profile: Profile, today: date, seed: int, sites: int = 40
) -> tuple[Any, list[tuple[Any, str]], int]:
    """The pages the machine's speed is measured on: an `Analyzer` for the first `sites` sites' rules, their
    search pages as a scan gets them (gzipped `Page`s, with the rule each belongs to), and their HTML bytes.
    Shared with benchmarks/instructions.py, which counts instructions on the same pages."""
    from exposure.analyze import Analyzer
    from exposure.models import Page

    specs = make_specs(sites, seed)
    analyzer = Analyzer(profile, {r.id: r for r in spec_rules(specs, lambda spec: 10000 + spec.index)}, today)
    filler = Filler(random.Random(seed))
    headers = {"content-type": "text/html; charset=utf-8", "content-encoding": "gzip"}
    pages = []
    html_bytes = 0
    for spec in specs:
        url = f"http://127.0.0.1:{10000 + spec.index}/search/name/x"
        for key, (status, html) in render_site(spec, today, filler, seed).items():
            if not key.startswith("person:"):
                body = gzip.compress(html.encode(), 6)
                html_bytes += len(html)
                pages.append((Page(url, url, status, headers, body, "", "text/html", encoded="gzip"), spec.site_id))
    return analyzer, pages, html_bytes


def speed_reference(
    profile: Profile, today: date, seed: int, sites: int = 40, passes: int = 3
) -> tuple[float, float]:
    """How fast this machine reads the benchmark's pages right now: ms of CPU per page, and MB of HTML per second,
    for the analysis of the first `sites` sites' search pages in this process (best of `passes`). Printed before
    and after the runs: a machine whose speed drifts (a shared VM) moves every figure of the table with it, and
    this says by how much, with no network, worker or server involved."""
    from analysis import forget_values  # benchmarks/analysis.py, beside this file

    analyzer, pages, html_bytes = reference_pages(profile, today, seed, sites)
    best = math.inf
    for _ in range(passes + 1):  # the first pass is left out: import-time and first-call costs are not per page
        forget_values()  # as in a scan, every page's names and addresses are new to the reader
        started = time.process_time()
        for page, rule_id in pages:
            analyzer.results(page, rule_id, page.url)
        best = min(best, time.process_time() - started)
    return 1000 * best / len(pages), html_bytes / 1e6 / best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sites", default="200,500,1000", help="site counts to run, comma-separated")
    ap.add_argument("--min-ms", type=float, default=50.0, help="least server latency per answer")
    ap.add_argument("--max-ms", type=float, default=150.0, help="most server latency per answer")
    ap.add_argument("--concurrency", default="auto",
                    help="global request limits to try, comma-separated; auto: the scan's own (sites / 8, 32-128)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-gzip", action="store_true", help="serve pages uncompressed")
    ap.add_argument("--cprofile", type=int, default=0, metavar="N",
                    help="profile the event loop with cProfile and print the top N functions (timings then inflate)")
    ap.add_argument("--cprofile-out", type=Path, metavar="FILE", help="also save the raw cProfile stats here")
    args = ap.parse_args(argv)

    today = date.today()
    profile = load_profile(PROFILE_PATH)
    # process time: what the scanning process spends, not the waits (cProfile inflates every call anyway)
    profiler = cProfile.Profile(time.process_time) if args.cprofile or args.cprofile_out else None
    # in a process of its own, so the scanning process's memory and caches are not the reference's
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        reference = [pool.apply(speed_reference, (profile, today, args.seed))]
    runs: list[RunResult] = []
    for n in (int(x) for x in str(args.sites).split(",")):
        runs += bench(n, args, profile, today, profiler)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        reference.append(pool.apply(speed_reference, (profile, today, args.seed)))
    (before, before_mb), (after, after_mb) = reference
    print(f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"its speed now, reading the benchmark's pages in one process: {before:.2f} ms of CPU per page "
          f"({before_mb:.0f} MB/s) before the runs, {after:.2f} ({after_mb:.0f} MB/s) after; every figure below "
          "moves with it")
    print_table(runs, args.min_ms, args.max_ms)
    if profiler is not None and args.cprofile_out:
        profiler.dump_stats(args.cprofile_out)
    if profiler is not None and args.cprofile:
        out = io.StringIO()
        ps = pstats.Stats(profiler, stream=out).strip_dirs()
        ps.sort_stats("tottime").print_stats(args.cprofile)
        ps.sort_stats("cumulative").print_stats(args.cprofile)
        print(out.getvalue())
    return 1 if any(r.wrong for r in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
