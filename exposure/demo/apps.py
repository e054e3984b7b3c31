"""The demo sites themselves: one aiohttp application per site, each with its own page layout.

Each site decides per request whether the searched person is on it, by comparing the path or query
with the people it knows (`people.py`), and answers the way its real-world counterpart would:
result cards with pagination and a detail hop, a table, JSON-LD, a Next.js-style JSON blob, a
Cloudflare challenge, or a 404. The HTML lives in `sites/<site-id>/` as Jinja templates.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ..normalize import fold, state_name
from .people import DEMO_PERSON, DENISE, DEVON, GERALD, HAROLD, MARTIN, NAMESAKE, Person, pretty_phone

SITES_DIR = Path(__file__).resolve().parent / "sites"

_ENV = Environment(
    loader=FileSystemLoader(SITES_DIR),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["phone"] = pretty_phone

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def page(template: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any) -> web.Response:
    """A rendered HTML page."""
    html = _ENV.get_template(template).render(**context)
    return web.Response(text=html, status=status, headers=headers, content_type="text/html", charset="utf-8")


def base_of(request: web.Request) -> str:
    """This site's own origin, for the absolute URLs some sites put in their data."""
    return f"{request.scheme}://{request.host}"


def digits_of(text: str) -> str:
    digits = re.sub(r"\D", "", text)
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


@dataclass(frozen=True)
class OptOutPage:
    """A site's removal form. Served so that the opt-out links in the demo report lead somewhere."""

    path: str
    site_name: str
    layout: str
    days: int
    fields: tuple[tuple[str, str, str], ...] = (("email", "email", "Your email address"),)

    def add_to(self, app: web.Application) -> None:
        fields = [{"name": n, "type": t, "label": label} for n, t, label in self.fields]

        async def form(request: web.Request) -> web.Response:
            return page(
                "_shared/optout.html",
                layout=self.layout,
                site_name=self.site_name,
                days=self.days,
                fields=fields,
                action=self.path,
            )

        async def submitted(request: web.Request) -> web.Response:
            await request.post()  # read and discard: the demo stores nothing
            return page("_shared/optout_done.html", layout=self.layout, site_name=self.site_name, days=self.days)

        app.router.add_get(self.path, form)
        app.router.add_post(self.path, submitted)


def _app(routes: Sequence[tuple[str, str, Handler]], opt_out: OptOutPage | None = None) -> web.Application:
    app = web.Application()
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    if opt_out:
        opt_out.add_to(app)
    return app


# ---------------------------------------------------------------- a. cards, detail pages, pagination


def peoplelookup() -> web.Application:
    """Cards with name, age and place; phones and emails only on each person's page; three cards a page.

    The site pads the exact matches with everyone of that surname in the state, ranked the way it
    likes, so the demo person lands on page 2 behind a namesake (same name, Green Bay, much younger).
    """
    t = "peoplelookup-demo/"
    ranking = (NAMESAKE, MARTIN, GERALD, DEMO_PERSON, DENISE)
    per_page = 3
    by_slug = {p.slug: p for p in ranking}

    async def home(request: web.Request) -> web.Response:
        return page(t + "home.html")

    async def search(request: web.Request) -> web.Response:
        first = request.query.get("first", "")
        last = request.query.get("last", "")
        state = request.query.get("state", "")
        searched = " ".join(x for x in (first.title(), last.title(), state.upper()) if x)
        if not fold(last) or not any(p.named(first, last) and p.in_state(state) for p in ranking):
            return page(t + "no_results.html", searched=searched)
        hits = [p for p in ranking if fold(last) in fold(p.last) and p.in_state(state)]
        pages = math.ceil(len(hits) / per_page)
        try:
            number = min(max(int(request.query.get("page", "1")), 1), pages)
        except ValueError:
            number = 1

        def link(n: int) -> str:
            return "/search?" + urlencode({"first": first, "last": last, "state": state, "page": n})

        start = (number - 1) * per_page
        return page(
            t + "results.html",
            people=hits[start : start + per_page],
            total=len(hits),
            start=start + 1,
            end=min(start + per_page, len(hits)),
            page=number,
            pages=pages,
            next_url=link(number + 1) if number < pages else None,
            prev_url=link(number - 1) if number > 1 else None,
            first=first,
            last=last,
            state=state,
        )

    async def person(request: web.Request) -> web.Response:
        p = by_slug.get(request.match_info["slug"])
        if p is None:
            return page(t + "no_results.html", status=404, searched="this profile")
        return page(t + "person.html", p=p)

    return _app(
        [("GET", "/", home), ("GET", "/search", search), ("GET", "/person/{slug}", person)],
        OptOutPage(
            "/opt-out",
            "PeopleLookup Demo",
            t + "layout.html",
            3,
            (("listing_url", "url", "URL of your listing"), ("email", "email", "Your email address")),
        ),
    )


# ---------------------------------------------------------------- b. a table, by phone and by name


@dataclass(frozen=True)
class Row:
    person: Person
    teaser: bool = False  # a pay-to-unlock row: masked phone, no age, no address


def phonebook_ledger() -> web.Application:
    """A ledger-style table, "LAST, First M" names; search by phone or by name.

    This site only ever got the demo person's Madison number, so a search for her other phone finds
    nothing. One row is a teaser for a paid report: a masked "(608) 555-01XX" and nothing else.
    """
    t = "phonebook-ledger-demo/"
    teaser = replace(DEMO_PERSON, key="T9X2Z4", middle="", phones=("60855501XX",), emails=(), past_addresses=())
    rows = (
        Row(replace(DEMO_PERSON, phones=DEMO_PERSON.phones[:1])),
        Row(teaser, teaser=True),
        Row(MARTIN),
        Row(GERALD),
    )

    async def home(request: web.Request) -> web.Response:
        return page(t + "home.html")

    async def by_name(request: web.Request) -> web.Response:
        last, first = request.match_info["last"], request.match_info["first"]
        heading = f"{fold(last).upper()}, {fold(first).title()}"
        if not any(r.person.named(first, last) for r in rows if not r.teaser):
            return page(t + "table.html", heading=heading, rows=[])
        return page(t + "table.html", heading=heading, rows=[r for r in rows if fold(r.person.last) == fold(last)])

    async def by_phone(request: web.Request) -> web.Response:
        digits = digits_of(request.match_info["number"])
        found = [r for r in rows if not r.teaser and r.person.has_phone(digits)]
        return page(t + "table.html", heading=f"Who called from {pretty_phone(digits)}?", rows=found)

    async def record(request: web.Request) -> web.Response:
        """One row on a page of its own; a teaser row's link leads to a paywall instead."""
        found = [r for r in rows if not r.teaser and r.person.slug == request.match_info["slug"]]
        heading = f"{found[0].person.last.upper()}, {found[0].person.first}" if found else "Record not found"
        return page(t + "table.html", status=200 if found else 404, heading=heading, rows=found)

    async def unlock(request: web.Request) -> web.Response:
        return page(t + "table.html", status=402, heading="Unlock this record for $0.95", rows=[])

    async def lookup(request: web.Request) -> web.Response:
        """The home page forms, turned into the site's canonical URLs."""
        q = request.query
        if q.get("phone"):
            d = digits_of(q["phone"])
            raise web.HTTPFound(f"/phone/{d[:3]}-{d[3:6]}-{d[6:]}")
        raise web.HTTPFound(
            f"/people/{quote(fold(q.get('last', '')).replace(' ', '-'))}/"
            f"{quote(fold(q.get('first', '')).replace(' ', '-'))}"
        )

    return _app(
        [
            ("GET", "/", home),
            ("GET", "/lookup", lookup),
            ("GET", "/people/{last}/{first}", by_name),
            ("GET", "/phone/{number}", by_phone),
            ("GET", "/record/{slug}", record),
            ("GET", "/unlock/{key}", unlock),
        ],
        OptOutPage(
            "/privacy/remove-my-info",
            "PhoneBook Ledger Demo",
            t + "layout.html",
            7,
            (("email", "email", "Your email address"), ("phone", "tel", "Phone number to verify by text")),
        ),
    )


# ---------------------------------------------------------------- c. JSON-LD


def _postal_address(street: str, city: str, state: str, zip_code: str) -> dict[str, str]:
    return {
        "@type": "PostalAddress",
        "streetAddress": street,
        "addressLocality": city,
        "addressRegion": state,
        "postalCode": zip_code,
    }


def _split_address_line(line: str) -> dict[str, str]:
    """A schema.org PostalAddress from one line: "45 Quarry Hill Rd, Rochester, MN 55901"."""
    street, city, state_zip = (part.strip() for part in line.split(","))
    state, _, zip_code = state_zip.partition(" ")
    return _postal_address(street, city, state, zip_code)


def person_jsonld(p: Person, base: str) -> dict[str, Any]:
    """A schema.org Person as people-search sites embed it for search engines."""
    return {
        "@type": "Person",
        "@id": f"{base}/p/{p.slug}#person",
        "url": f"{base}/p/{p.slug}",
        "name": p.full_name,
        "givenName": p.first,
        "familyName": p.last,
        "alternateName": list(p.aliases),
        "telephone": [pretty_phone(ph) for ph in p.phones],
        "email": list(p.emails),
        "address": [
            _postal_address(p.street_line, p.city, p.state, p.zip),
            *(_split_address_line(a) for a in p.past_addresses),
        ],
        "relatedTo": [{"@type": "Person", "name": r} for r in p.relatives],
    }


def clearfind() -> web.Application:
    """Results as a schema.org @graph in one JSON-LD script; the visible tiles are for people only.

    Knows the demo person's example.net address but not her example.org one. A name search needs the
    state spelled out ("/find/margaret-calloway/wisconsin"), and finds the Green Bay namesake too.
    """
    t = "clearfind-demo/"
    people = (replace(DEMO_PERSON, emails=DEMO_PERSON.emails[:1]), NAMESAKE, MARTIN)
    by_slug = {p.slug: p for p in people}

    def results(request: web.Request, searched: str, found: list[Person]) -> web.Response:
        base = base_of(request)
        graph: list[dict[str, Any]] = [
            {"@type": "SearchResultsPage", "@id": f"{base}{request.path_qs}", "name": f"{searched} | ClearFind Demo"},
            *(person_jsonld(p, base) for p in found),
        ]
        return page(
            t + "results.html",
            searched=searched,
            people=found,
            jsonld={"@context": "https://schema.org", "@graph": graph},
        )

    async def home(request: web.Request) -> web.Response:
        return page(t + "home.html")

    async def by_name(request: web.Request) -> web.Response:
        name, state = request.match_info["name"], request.match_info["state"]
        found = [p for p in people if p.named_slug(name) and p.in_state(state)]
        return results(request, f"{fold(name).title()}, {fold(state).title()}", found)

    async def by_email(request: web.Request) -> web.Response:
        email = request.query.get("q", "")
        return results(request, email, [p for p in people if p.has_email(email)])

    async def profile(request: web.Request) -> web.Response:
        p = by_slug.get(request.match_info["slug"])
        if p is None:
            return results(request, "this profile", [])
        return page(
            t + "person.html", p=p, jsonld={"@context": "https://schema.org", **person_jsonld(p, base_of(request))}
        )

    async def lookup(request: web.Request) -> web.Response:
        name = fold(request.query.get("name", "")).replace(" ", "-")
        state = fold(state_name(request.query.get("state", ""))).replace(" ", "-")
        raise web.HTTPFound(f"/find/{quote(name)}/{quote(state)}")

    return _app(
        [
            ("GET", "/", home),
            ("GET", "/lookup", lookup),
            ("GET", "/find/{name}/{state}", by_name),
            ("GET", "/search/email", by_email),
            ("GET", "/p/{slug}", profile),
        ],
        OptOutPage(
            "/privacy/request",
            "ClearFind Demo",
            t + "layout.html",
            14,
            (("email", "email", "Your email address"), ("listing_url", "url", "URL of the profile")),
        ),
    )


# ---------------------------------------------------------------- d. Next.js-style JSON, address search


def resident_json(p: Person, base: str) -> dict[str, Any]:
    """One resident as the site's React front end receives it."""
    history = [{"line": p.address_line, "current": True}]
    history += [{"line": a, "current": False} for a in p.past_addresses]
    return {
        "id": p.key,
        "fullName": p.short_name,
        "age": p.age,
        "profileUrl": f"{base}/resident/{p.slug}",
        "phones": [
            {"number": pretty_phone(ph), "type": "Landline" if i else "Mobile"} for i, ph in enumerate(p.phones)
        ],
        "emails": list(p.emails),
        "addressHistory": history,
        "relatives": [{"name": r} for r in p.relatives],
    }


def homeroster() -> web.Application:
    """Who lives at an address, delivered as a `__NEXT_DATA__` JSON blob; unknown addresses redirect.

    A search for an address the site has no residents for is answered with a 302 to /no-results,
    so only the final URL tells "nobody" apart from a results page. It knows the demo person's
    current building (and her downstairs neighbour) but not her past address in Rochester.
    """
    t = "homeroster-demo/"
    people = (DEMO_PERSON, DEVON)
    by_slug = {p.slug: p for p in people}

    def next_data(page_name: str, query: dict[str, str], props: dict[str, Any]) -> dict[str, Any]:
        return {
            "props": {"pageProps": props, "__N_SSP": True},
            "page": page_name,
            "query": query,
            "buildId": "demo-7f3a9c1",
            "isFallback": False,
            "gssp": True,
            "scriptLoader": [],
        }

    async def home(request: web.Request) -> web.Response:
        return page(t + "home.html")

    async def address(request: web.Request) -> web.Response:
        street, place = request.match_info["street"], request.match_info["place"]
        city, _, state = place.rpartition("-")
        residents = [p for p in people if p.lives_at(street, city, state)]
        if not residents:
            raise web.HTTPFound("/no-results?" + urlencode({"address": f"{street} {place}"}))
        base = base_of(request)
        first = residents[0]
        addr = {"line": first.street, "city": first.city, "state": first.state, "zip": first.zip}
        data = [resident_json(p, base) for p in residents]
        return page(
            t + "address.html",
            address=addr,
            residents=data,
            next_data=next_data(
                "/address/[street]/[place]",
                {"street": street, "place": place},
                {"address": addr, "residents": data, "total": len(data)},
            ),
        )

    async def no_results(request: web.Request) -> web.Response:
        return page(t + "no_results.html", next_data=next_data("/no-results", dict(request.query), {"residents": []}))

    async def resident(request: web.Request) -> web.Response:
        p = by_slug.get(request.match_info["slug"])
        if p is None:
            raise web.HTTPFound("/no-results")
        data = resident_json(p, base_of(request))
        return page(
            t + "resident.html", r=data, next_data=next_data("/resident/[slug]", {"slug": p.slug}, {"resident": data})
        )

    async def lookup(request: web.Request) -> web.Response:
        q = request.query
        street = fold(q.get("street", "")).replace(" ", "-")
        place = fold(f"{q.get('city', '')} {q.get('state', '')}").replace(" ", "-")
        raise web.HTTPFound(f"/address/{quote(street)}/{quote(place)}")

    return _app(
        [
            ("GET", "/", home),
            ("GET", "/lookup", lookup),
            ("GET", "/address/{street}/{place}", address),
            ("GET", "/no-results", no_results),
            ("GET", "/resident/{slug}", resident),
        ],
        OptOutPage("/remove", "HomeRoster Demo", t + "layout.html", 2),
    )


# ---------------------------------------------------------------- e. a Cloudflare-style challenge


def shieldpages() -> web.Application:
    """Every request, search or not, gets a managed challenge, as behind Cloudflare's bot fight mode.

    The markers are the ones real challenges carry: 403, `cf-mitigated: challenge`, `server:
    cloudflare`, a cf-ray id and the "Just a moment..." title. A scan cannot get past it and must
    say so (could not check), never "not listed".
    """

    async def challenge(request: web.Request) -> web.Response:
        digest = hashlib.sha256(request.path_qs.encode()).hexdigest()
        ray = digest[:16]
        headers = {
            "cf-mitigated": "challenge",
            "cf-ray": f"{ray}-ORD",
            "server": "cloudflare",
            "cache-control": "private, max-age=0, no-store, no-cache, must-revalidate",
            "x-frame-options": "SAMEORIGIN",
            "critical-ch": "Sec-CH-UA-Bitness, Sec-CH-UA-Arch, Sec-CH-UA-Full-Version",
        }
        return page(
            "shieldpages-demo/challenge.html",
            status=403,
            headers=headers,
            host=request.host,
            path=request.path,
            token=digest[16:56],
            ray=ray,
        )

    return _app([("*", "/{tail:.*}", challenge)])


# ---------------------------------------------------------------- f. the person is not listed


def recordhound() -> web.Application:
    """A sister site of PeopleLookup that never had the demo person: her searches are 404 "No records found".

    It does know other people, so its name and phone searches are shown to work.
    """
    t = "recordhound-demo/"
    people = (GERALD, HAROLD, MARTIN)

    def answer(searched: str, found: list[Person]) -> web.Response:
        if not found:
            return page(t + "not_found.html", status=404, searched=searched)
        return page(t + "results.html", searched=searched, people=found)

    async def home(request: web.Request) -> web.Response:
        return page(t + "home.html")

    async def by_name(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        return answer(fold(name).title(), [p for p in people if p.named_slug(name)])

    async def by_phone(request: web.Request) -> web.Response:
        digits = digits_of(request.match_info["digits"])
        return answer(pretty_phone(digits), [p for p in people if p.has_phone(digits)])

    async def lookup(request: web.Request) -> web.Response:
        q = request.query
        if q.get("phone"):
            raise web.HTTPFound(f"/reverse-phone/{digits_of(q['phone'])}")
        raise web.HTTPFound("/name/" + quote(fold(f"{q.get('first', '')} {q.get('last', '')}").replace(" ", "-")))

    return _app(
        [
            ("GET", "/", home),
            ("GET", "/lookup", lookup),
            ("GET", "/name/{name}", by_name),
            ("GET", "/reverse-phone/{digits}", by_phone),
        ],
        OptOutPage("/suppression", "RecordHound Demo", t + "layout.html", 5),
    )


# Site id -> application factory. The ids are the rule file names in `rules/`.
SITE_APPS: dict[str, Callable[[], web.Application]] = {
    "peoplelookup-demo": peoplelookup,
    "phonebook-ledger-demo": phonebook_ledger,
    "clearfind-demo": clearfind,
    "homeroster-demo": homeroster,
    "shieldpages-demo": shieldpages,
    "recordhound-demo": recordhound,
}
