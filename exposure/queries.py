"""Profile x rule -> the concrete searches to run.

Every search a site supports, for every identifier it applies to: each name and alias, once per
place of the profile's addresses when the URL has a place in it (and once without a place when the
rule allows it); each phone, email and address. A URL is never produced twice.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Mapping
from urllib.parse import quote, quote_plus

from unidecode import unidecode

from .models import Query, QueryKind
from .normalize import Address, PersonName, state_name
from .profile import Profile
from .rules import LOCATION_VARS, Rule, Search, template_fields

_ENCODING_FILTERS = {"urlencode", "raw"}


def _slug(value: str, sep: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", sep, unidecode(value)).strip(sep)


def apply_filters(value: str, filters: list[str]) -> str:
    """Run a value through a placeholder's transforms, then percent-encode it unless a filter did."""
    encoded = False
    for f in filters:
        name, _, arg = f.partition(":")
        if name == "lower":
            value = value.lower()
        elif name == "upper":
            value = value.upper()
        elif name == "title":
            value = value.title()
        elif name == "slug":
            value = _slug(value, arg or "-")
        elif name == "state_full":
            value = state_name(value)
        elif name == "digits":
            value = re.sub(r"\D", "", value)
        elif name == "urlencode":
            value = quote_plus(value)
            encoded = True
        elif name == "raw":
            encoded = True
    return value if encoded else quote(value, safe="-_.~+")


def fill(template: str, variables: Mapping[str, str]) -> str:
    """A URL from a template whose placeholders were validated when the rule was loaded."""
    out = []
    for literal, name, spec, _conv in string.Formatter().parse(template):
        out.append(literal)
        if name is not None:
            if spec:
                name = f"{name}:{spec}"
            var, *filters = name.split("|")
            out.append(apply_filters(variables.get(var.strip(), ""), [f.strip() for f in filters]))
    return "".join(out)


def _name_vars(name: PersonName) -> dict[str, str]:
    middle = name.middles[0].title() if name.middles else ""
    return {
        "first": name.first.title(),
        "middle": middle,
        "middle_initial": middle[:1],
        "last": name.last.title(),
        "full": f"{name.first} {name.last}".title(),
    }


def _address_vars(a: Address) -> dict[str, str]:
    return {
        "street": a.street.title(),
        "street_line": a.street_line,
        "unit_full": a.unit_full,
        "house": a.house,
        "street_name": a.street_name.title(),
        "unit": a.unit,
        "city": a.city.title(),
        "state": a.state,
        "zip": a.zip,
    }


def _phone_vars(digits: str) -> dict[str, str]:
    return {
        "phone": digits,
        "phone_area": digits[:3],
        "phone_exchange": digits[3:6],
        "phone_line": digits[6:],
        "phone_e164": f"+1{digits}" if len(digits) == 10 else f"+{digits}",
    }


def _pretty_phone(d: str) -> str:
    return f"({d[:3]}) {d[3:6]}-{d[6:]}" if len(d) == 10 else d


def _search_queries(profile: Profile, rule: Rule, search: Search) -> Iterator[Query]:
    kind = search.kind
    if kind is QueryKind.NAME:
        used = {v for v, _ in template_fields(search.url)}
        for name in profile.names:
            nv = _name_vars(name)
            label = nv["full"]
            if used & LOCATION_VARS:
                places: dict[tuple[str, str, str], None] = {}
                for a in profile.addresses:
                    key = (
                        a.city if "city" in used else "",
                        a.state if used & {"state", "city"} else "",
                        a.zip if "zip" in used else "",
                    )
                    places.setdefault(key, None)
                for city, state, zip_ in places:
                    where = ", ".join(p for p in (city.title(), state, zip_) if p)
                    variables = {**nv, "city": city.title(), "state": state, "zip": zip_}
                    yield Query(rule.id, kind, fill(search.url, variables), f"name: {label} in {where}")
                if search.url_without_location:
                    yield Query(rule.id, kind, fill(search.url_without_location, nv), f"name: {label}")
            else:
                yield Query(rule.id, kind, fill(search.url, nv), f"name: {label}")
    elif kind is QueryKind.PHONE:
        for digits in profile.phones:
            yield Query(rule.id, kind, fill(search.url, _phone_vars(digits)), f"phone: {_pretty_phone(digits)}")
    elif kind is QueryKind.EMAIL:
        for email in profile.emails:
            user, _, domain = email.partition("@")
            variables = {"email": email, "email_user": user, "email_domain": domain}
            yield Query(rule.id, kind, fill(search.url, variables), f"email: {email}")
    elif kind is QueryKind.ADDRESS:
        for a in profile.addresses:
            label = f"address: {a.street.title()}, {a.city.title()}, {a.state}"
            yield Query(rule.id, kind, fill(search.url, _address_vars(a)), label)


def build_queries(profile: Profile, rule: Rule) -> list[Query]:
    """Every search of the rule the profile has data for, each URL once."""
    seen: set[str] = set()
    out = []
    for search in rule.searches:
        for q in _search_queries(profile, rule, search):
            if q.url not in seen:
                seen.add(q.url)
                out.append(q)
    return out
