"""Listing x profile -> is this the user, a namesake, unconfirmed, or someone else, and what does it expose.

A name alone never makes a listing the user. It is the user when the name matches (legal name,
nickname, middle name or initial, alias or maiden name, any order and case) AND something else
corroborates it: one of the user's phones, emails or street addresses, or an age within one year of
the birth year together with a city or state of the user's addresses.

A listing with the user's name that is not the user is one of two things, and the difference is what
keeps "you are not listed" honest:
- a *namesake* when something on it contradicts the profile: an age outside one year of the birth year,
  places shown that are none of the profile's, a different middle name or initial;
- *unconfirmed* otherwise: nothing confirms it and nothing rules it out (a drifted card read as a bare
  name, a detail page we could not open). The site is then "could not check", never "not listed".
Every decision carries reasons a person can check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .models import Exposure, ExposureKind, Listing, Verdict
from .normalize import (
    AGE_TEXT_RE,
    Address,
    PersonName,
    Phone,
    clean_shown_name,
    find_addresses,
    find_emails,
    find_phones,
    fold,
    given_name_forms,
    is_truncated,
    masked_email_compatible,
    masked_phone_compatible,
    parse_address,
    parse_age,
    parse_name,
    parse_place,
    phone_digits,
    quick_address,
    state_abbr,
)
from .profile import Profile

# How much each kind of agreement adds to the confidence that a listing is the user.
WEIGHTS = {"name": 0.35, "phone": 0.35, "email": 0.35, "address": 0.3, "age": 0.15, "place": 0.12, "relative": 0.08}


@dataclass(frozen=True)
class NameMatch:
    how: str  # "exact", "nickname Bob", "initial", "alias Jane Holloway" ...
    strength: float  # 1.0 exact, lower for weaker forms
    conflict: str = ""  # why the name cannot be the user's although first and last name fit


def _surname_ok(shown: PersonName, mine: PersonName) -> bool:
    if not shown.last or not mine.last:
        return False
    if shown.last == mine.last:
        return True
    # compound and hyphenated surnames: "garcia lopez" is also listed as "garcia" or "lopez"
    a, b = set(shown.last_parts), set(mine.last_parts)
    return (len(a) > 1 or len(b) > 1) and bool(a & b)


def _given_ok(shown: PersonName, mine: PersonName) -> tuple[str, float] | None:
    first = shown.first
    if first == mine.first:
        return "exact", 1.0
    if first in given_name_forms(mine.first) or mine.first in given_name_forms(first):
        return f"nickname {first.title()}", 0.9
    if len(first) == 1 and first == mine.first[0]:
        return "first initial", 0.6
    if mine.middles and first == mine.middles[0] and len(first) > 1:
        return "middle name used as first name", 0.8
    return None


def _middle_conflict(shown: PersonName, profile: Profile) -> str:
    """Why a shown middle name rules the user out, or "".

    The user's known middles are those of the legal name and of every alias; a maiden or other former
    surname shown as a middle name ("Elizabeth Whitfield Carrow") is no conflict either.
    """
    known = {m for n in profile.names for m in n.middles}
    surnames = {part for n in profile.names for part in n.last_parts}
    for sm in shown.middles:
        if sm in surnames or not known:
            continue
        if any(sm == m or (len(sm) == 1 and m.startswith(sm)) or (len(m) == 1 and sm.startswith(m)) for m in known):
            continue
        mine = max(known, key=len)
        return f"the middle name {sm.title()} is not your {mine.title()}"
    return ""


def name_match(shown_raw: str, profile: Profile) -> NameMatch | None:
    """How a displayed name matches one of the user's names, or None."""
    if is_truncated(shown_raw):
        return None  # "Jane Testw…" could be anyone's name
    shown = parse_name(clean_shown_name(shown_raw))
    if shown is None or not shown.last:
        return None
    best: NameMatch | None = None
    for i, mine in enumerate(profile.names):
        if not _surname_ok(shown, mine):
            continue
        given = _given_ok(shown, mine)
        if given is None:
            continue
        how, strength = given
        if i > 0:
            how = f"{how} of alias {mine.original.strip()}"
            strength *= 0.95
        if best is None or strength > best.strength:
            best = NameMatch(how, strength)
    if best is not None:
        conflict = _middle_conflict(shown, profile)
        if conflict:
            best = NameMatch(best.how, best.strength, conflict)
    return best


def _relative_matches(shown_raw: str, profile: Profile) -> bool:
    if is_truncated(shown_raw):
        return False
    shown = parse_name(shown_raw)
    if shown is None:
        return False
    for rel in profile.relatives:
        if shown.last and rel.last and (shown.last == rel.last or set(shown.last_parts) & set(rel.last_parts)):
            if shown.first == rel.first or shown.first in given_name_forms(rel.first):
                return True
    return False


def _snippet(text: str, needle: str, width: int = 60) -> str:
    i = text.find(needle)
    if i < 0:
        return needle
    start, end = max(0, i - width), min(len(text), i + len(needle) + width)
    return ("…" if start else "") + text[start:end].strip() + ("…" if end < len(text) else "")


class _Collector:
    """Exposed values of one listing, deduplicated by kind and canonical value."""

    def __init__(self) -> None:
        self.items: dict[tuple[ExposureKind, str], Exposure] = {}

    def add(self, kind: ExposureKind, key: str, exposure: Exposure) -> None:
        old = self.items.get((kind, key))
        if old is None or (exposure.matches_profile and not old.matches_profile):
            self.items[(kind, key)] = exposure


def judge(listing: Listing, profile: Profile, today: date | None = None) -> Verdict:
    """The verdict on one listing, with the reasons and every exposed value."""
    values = listing.values
    text = listing.text
    out = _Collector()
    reasons: list[str] = []
    score = 0.0

    # -- names
    name_hit: NameMatch | None = None
    for ev in values.get(ExposureKind.NAME, ()):
        hit = name_match(ev.value, profile)
        out.add(ExposureKind.NAME, fold(ev.value), Exposure(ExposureKind.NAME, ev.value, hit is not None, ev.snippet))
        if hit and (name_hit is None or hit.strength > name_hit.strength):
            name_hit = hit
    for ev in values.get(ExposureKind.ALIAS, ()):
        hit = name_match(ev.value, profile)
        out.add(
            ExposureKind.ALIAS,
            fold(ev.value),
            Exposure(ExposureKind.ALIAS, ev.value, hit is not None, ev.snippet, partial=is_truncated(ev.value)),
        )
        if hit and name_hit is None:
            name_hit = NameMatch(f"listed alias {ev.value}", hit.strength * 0.9)
    if name_hit and not name_hit.conflict:
        reasons.append(f"name matches ({name_hit.how})")
        score += WEIGHTS["name"] * name_hit.strength

    # -- phones: the field values and any number written in the listing's text
    phone_hits: list[str] = []
    partial: list[str] = []
    seen_phone: set[str] = set()
    candidates: list[tuple[Phone, str]] = []
    for ev in values.get(ExposureKind.PHONE, ()):
        found = find_phones(ev.value)
        if found:
            candidates.extend((p, ev.snippet) for p, _ in found)
        else:
            digits = phone_digits(ev.value, profile.country)
            if len(digits) >= 7:
                candidates.append((Phone(digits), ev.snippet))
    candidates.extend((p, _snippet(text, s)) for p, s in find_phones(text))
    for phone, snippet in candidates:
        if phone.digits in seen_phone:
            continue
        seen_phone.add(phone.digits)
        mine = not phone.masked and phone.digits in profile.phones
        if mine:
            phone_hits.append(phone.pretty())
        if phone.masked and any(masked_phone_compatible(phone, p) for p in profile.phones):
            partial.append(phone.pretty())  # its visible digits agree with one of the user's
        out.add(
            ExposureKind.PHONE,
            phone.digits,
            Exposure(ExposureKind.PHONE, phone.pretty(), mine, snippet, partial=phone.masked),
        )
    for p in phone_hits:
        reasons.append(f"phone {p} matches")
    if phone_hits:
        score += WEIGHTS["phone"]

    # -- emails
    email_hits: list[str] = []
    emails: list[tuple[str, bool, str]] = []
    for ev in values.get(ExposureKind.EMAIL, ()):
        found_e = find_emails(ev.value)
        emails.extend((e, m, ev.snippet) for e, m, _ in found_e)
    emails.extend((e, m, _snippet(text, s)) for e, m, s in find_emails(text))
    for shown_email, masked, snippet in emails:
        mine = not masked and shown_email in profile.emails
        if mine:
            email_hits.append(shown_email)
        if masked and any(masked_email_compatible(shown_email, e) for e in profile.emails):
            partial.append(shown_email)
        out.add(
            ExposureKind.EMAIL, shown_email, Exposure(ExposureKind.EMAIL, shown_email, mine, snippet, partial=masked)
        )
    for e in dict.fromkeys(email_hits):
        reasons.append(f"email {e} matches")
    if email_hits:
        score += WEIGHTS["email"]

    # -- street addresses
    address_hits: list[tuple[Address, str]] = []
    places: set[tuple[str, str]] = set()  # (CITY, ST) shown with a real state: these can contradict
    city_hits: set[tuple[str, str]] = set()  # a city of the user's shown without a state: agrees, never contradicts
    addr_candidates = []
    for ev in values.get(ExposureKind.ADDRESS, ()):
        house = ev.value.split(None, 1)[0] if ev.value else ""
        parsed = parse_address(ev.value) if house in profile.houses else quick_address(ev.value)
        if parsed:
            addr_candidates.append((parsed, ev.value, ev.snippet))
        else:
            place = parse_place(ev.value)
            if place.state:
                places.add((place.city, place.state))
            elif place.city and _place_in_profile(place.city, "", profile):
                city_hits.add((place.city, ""))
    addr_candidates.extend((a, raw, _snippet(text, raw)) for a, raw in find_addresses(text, profile.houses))
    for addr, raw, snippet in addr_candidates:
        index = next((i for i, m in enumerate(profile.addresses) if addr.same_place(m)), None)
        mine = index is not None
        if mine and not any(addr.same_place(a) for a, _ in address_hits):
            address_hits.append((addr, raw))
        if addr.state:
            places.add((addr.city, addr.state))
        out.add(
            ExposureKind.ADDRESS,
            f"{addr.street}|{addr.unit}",
            Exposure(ExposureKind.ADDRESS, raw, mine, snippet, profile_index=index),
        )
    for _, a in address_hits:
        reasons.append(f"address {a} matches")
    if address_hits:
        score += WEIGHTS["address"]

    # -- places (city, state)
    for ev in values.get(ExposureKind.LOCATION, ()):
        place = parse_place(ev.value)
        mine = _place_in_profile(place.city, place.state, profile)
        if place.state:
            places.add((place.city, place.state))
        elif mine:
            city_hits.add((place.city, ""))
        # a place that does not parse ("LIVES IN SPRINGFIELD" with no state) is shown, but contradicts nothing
        out.add(ExposureKind.LOCATION, fold(ev.value), Exposure(ExposureKind.LOCATION, ev.value, mine, ev.snippet))
    place_hit = next((p for p in places if _place_in_profile(p[0], p[1], profile)), None)
    if place_hit is None and city_hits:
        place_hit = sorted(city_hits)[0]
    # a place list the page cut short may hide the user's place: what it shows contradicts nothing
    place_contradicts = bool(places) and place_hit is None and ExposureKind.LOCATION not in listing.cut

    # -- age
    age_hit: int | None = None
    age_contradicts = False
    ages: list[tuple[int, str, str]] = []
    for ev in values.get(ExposureKind.AGE, ()):
        age = parse_age(ev.value)
        if age is not None:
            ages.append((age, ev.value, ev.snippet))
    if not ages:
        for m in AGE_TEXT_RE.finditer(text):
            age = int(m.group(1) or m.group(2) or m.group(3))
            if 0 < age < 120:
                ages.append((age, m.group(0).strip(), _snippet(text, m.group(0))))
                break
    age_range = profile.age_range(today)
    for age, raw, snippet in ages:
        ok = age_range is not None and age_range[0] - 1 <= age <= age_range[1] + 1
        if ok:
            age_hit = age
        elif age_range is not None:
            age_contradicts = True
        out.add(ExposureKind.AGE, str(age), Exposure(ExposureKind.AGE, raw, ok, snippet))
    if age_hit is not None:
        age_contradicts = False

    # -- relatives
    relative_hits = []
    for ev in values.get(ExposureKind.RELATIVE, ()):
        mine = _relative_matches(ev.value, profile)
        if mine:
            relative_hits.append(ev.value)
        out.add(
            ExposureKind.RELATIVE,
            fold(ev.value),
            Exposure(ExposureKind.RELATIVE, ev.value, mine, ev.snippet, partial=is_truncated(ev.value)),
        )

    # -- the decision
    strong = bool(phone_hits or email_hits or address_hits)
    if age_hit is not None and age_range is not None:
        reasons.append(f"age {age_hit} fits birth year {profile.birth_year}")
        score += WEIGHTS["age"]
    if place_hit is not None:
        reasons.append(f"lives in {_place_label(place_hit)}, a place in your profile")
        score += WEIGHTS["place"]
    if relative_hits:
        reasons.append(f"relative {relative_hits[0]} matches")
        score += WEIGHTS["relative"]
    is_user = False
    namesake = False
    identifier = False
    unconfirmed = False
    names_shown = [e.value for e in out.items.values() if e.kind is ExposureKind.NAME]
    if name_hit is not None and name_hit.conflict:
        # first and last name fit, but the listing says something that cannot be true of the user
        if strong:
            identifier = True
            reasons.insert(0, f"another person's listing that shows your data ({name_hit.conflict})")
        else:
            namesake = True
            reasons.insert(0, f"same first and last name, but {name_hit.conflict}")
    elif name_hit is not None:
        if strong or (age_hit is not None and place_hit is not None):
            is_user = True
        else:
            contradictions = []
            if age_contradicts:
                contradictions.append(f"the age ({', '.join(str(a) for a, _, _ in ages)}) does not fit your birth year")
            if place_contradicts:
                shown = "; ".join(sorted(_place_label(p) for p in places))
                contradictions.append(f"the places shown ({shown}) are not in your profile")
            if relative_hits and not age_contradicts:
                # one of the user's relatives on it: a move the profile does not know of is likelier than a
                # namesake with the same relative
                contradictions = []
            if contradictions:
                namesake = True
                reasons.extend(f"but {c}" for c in contradictions)
            else:
                unconfirmed = True
                reasons.append("but nothing else on the listing confirms or rules out that it is you: open it and look")
    elif strong:
        identifier = True
        reasons.insert(0, "another person's listing that shows your data")
    elif not names_shown:
        unconfirmed = True
        reasons.insert(0, "we could not read a name on this listing, so we cannot rule it out: open it and look")
    else:
        reasons.insert(0, f"not you: the listing's name ({names_shown[0]}) is none of yours")
    if listing.unread and not is_user and not identifier:
        # we could not read all of it (its own page was a block page, ...): it can be confirmed, never ruled out
        unconfirmed, namesake = True, False
        reasons.append(f"we could not read the whole listing ({listing.unread})")
    if partial:
        reasons.append(f"partly hidden value(s) that may be yours: {', '.join(dict.fromkeys(partial))}")
    confidence = min(0.99, score) if is_user else min(score, 0.5)
    return Verdict(
        listing=listing,
        is_user=is_user,
        namesake=namesake,
        confidence=round(confidence, 3),
        reasons=tuple(reasons),
        exposed=tuple(out.items.values()),
        identifier_exposed=identifier,
        ignored=listing.url in profile.not_me,
        unconfirmed=unconfirmed,
    )


def _place_in_profile(city: str, state: str, profile: Profile) -> bool:
    """A place agrees with the profile when its state is one of the user's and its city (if shown) too."""
    st = state_abbr(state) if state and len(state) != 2 else state.upper()
    for p_city, p_state in profile.places:
        if st and st != p_state:
            continue
        if not st and not city:
            continue
        if city and fold(city) != fold(p_city):
            continue
        return True
    return False


def _place_label(place: tuple[str, str]) -> str:
    city, state = place
    return ", ".join(p for p in (city.title(), state) if p)


def judge_all(listings: list[Listing], profile: Profile, today: date | None = None) -> list[Verdict]:
    return [judge(listing, profile, today) for listing in listings]
