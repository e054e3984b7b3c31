"""Canonical forms of names, phones, emails and addresses, so that two spellings of one fact compare equal.

Used on both sides: once on the profile, and on every value a listing shows. Each function is pure and
cheap enough for the analysis hot path (see benchmarks/analysis.py); the slow parsers are cached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

import phonenumbers
import us
from nicknames import NickNamer
from unidecode import unidecode

# ---------------------------------------------------------------- names

_SUFFIXES = {"jr", "sr", "ii", "iii", "iv", "v", "md", "phd", "esq"}
_PREFIXES = {"mr", "mrs", "ms", "miss", "dr", "prof"}
_NICKNAMER = NickNamer()


@dataclass(frozen=True)
class PersonName:
    """A name split into given names and surname tokens, lower-case ASCII."""

    first: str
    middles: tuple[str, ...]
    last: str  # full surname, hyphens kept as spaces: "garcia lopez"
    original: str

    @cached_property
    def last_parts(self) -> tuple[str, ...]:
        return tuple(self.last.split())

    @property
    def full(self) -> str:
        return " ".join((self.first, *self.middles, self.last)).strip()


@lru_cache(maxsize=16384)
def fold(text: str) -> str:
    """Lower-case ASCII with punctuation turned into spaces: "Zoë O'Brien-Núñez" -> "zoe obrien nunez"."""
    text = unidecode(text).lower().replace("'", "").replace("’", "")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


@lru_cache(maxsize=8192)
def parse_name(raw: str) -> PersonName | None:
    """Split a displayed name; understands "Last, First Middle", titles, suffixes and initials."""
    raw = raw.strip()
    if not raw:
        return None
    if "," in raw:
        head, _, tail = raw.partition(",")
        tail_tokens = fold(tail).split()
        # "Doe, Jane A" is surname-first; "Jane Doe, Jr." is a suffix; "Jane Doe, 47" is an age
        if tail_tokens and not all(t in _SUFFIXES or t.isdigit() for t in tail_tokens):
            raw = f"{tail} {head}"
        else:
            raw = head
    tokens = [t for t in fold(raw).split() if t not in _SUFFIXES and not t.isdigit()]
    while tokens and tokens[0] in _PREFIXES:
        tokens.pop(0)
    if not tokens:
        return None
    if len(tokens) == 1:
        return PersonName(tokens[0], (), "", raw)
    # a hyphenated surname arrives as two tokens after fold(); keep it whole when the raw had a hyphen
    raw_words = unidecode(raw).split()
    if raw_words and "-" in raw_words[-1] and len(tokens) >= 3:
        hyphen_parts = len(fold(raw_words[-1]).split())
        if hyphen_parts >= 2 and len(tokens) > hyphen_parts:
            return PersonName(tokens[0], tuple(tokens[1:-hyphen_parts]), " ".join(tokens[-hyphen_parts:]), raw)
    return PersonName(tokens[0], tuple(tokens[1:-1]), tokens[-1], raw)


@lru_cache(maxsize=4096)
def given_name_forms(first: str) -> frozenset[str]:
    """A given name with its nicknames and the names it is a nickname of (Bob <-> Robert)."""
    forms = {first}
    forms |= _NICKNAMER.nicknames_of(first)
    canon = _NICKNAMER.canonicals_of(first)
    forms |= canon
    for c in canon:  # Bobby -> Robert -> Bob
        forms |= _NICKNAMER.nicknames_of(c)
    return frozenset(f.lower() for f in forms)


# ---------------------------------------------------------------- phones

# Separators are bounded ({0,3}): unbounded runs beside each other made a line of spaces quadratic.
PHONE_RE = re.compile(
    r"(?<![\dA-Za-z])(?:\+?1[\s.\-]{0,3})?\(?[ \t]{0,2}([2-9][0-9Xx*•]{2})[ \t]{0,2}\)?[\s.\-]{0,3}([0-9Xx*•]{3})"
    r"[\s.\-]{0,3}([0-9Xx*•]{4})(?![\dA-Za-z])"
)


@dataclass(frozen=True)
class Phone:
    """A phone number as national digits ("2173482291"); `masked` when the page hid some digits."""

    digits: str
    masked: bool = False

    def pretty(self) -> str:
        d = self.digits
        return f"({d[:3]}) {d[3:6]}-{d[6:]}" if len(d) == 10 else d


def phone_digits(raw: str, region: str = "US") -> str:
    """National significant digits of a number in any format; never drops a number as 'invalid'."""
    try:
        num = phonenumbers.parse(raw, region)
        national = str(num.national_number)
        if national:
            return national
    except phonenumbers.NumberParseException:
        pass
    digits = re.sub(r"\D", "", raw)
    if region == "US" and len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits


def find_phones(text: str) -> list[tuple[Phone, str]]:
    """Phones in free text, with the matched snippet; a cheap regex pass first, then validation."""
    out = []
    for m in PHONE_RE.finditer(text):
        raw = "".join(m.groups())
        masked = not raw.isdigit()
        if masked:
            digits = re.sub(r"[^0-9]", "x", raw)
        else:
            digits = raw
            # NANP: the exchange may not start with 0 or 1; reject ZIP+4s, dates and order numbers
            if digits[3] in "01":
                continue
        out.append((Phone(digits, masked), m.group(0).strip()))
    return out


def phone_matches(listing: Phone, mine: str) -> bool:
    """Full match only; a masked number never matches, it is a partial exposure."""
    return not listing.masked and listing.digits == mine


def masked_phone_compatible(listing: Phone, mine: str) -> bool:
    """Whether the visible digits of a masked number agree with the user's."""
    return (
        listing.masked
        and len(listing.digits) == len(mine)
        and all(a == "x" or a == b for a, b in zip(listing.digits, mine, strict=True))
    )


# ---------------------------------------------------------------- emails

# The look-behind holds every character the user part may hold, so a match is tried once per run, never once
# per character of it: "*" and "•" were missing, and a long run of them before an "@" was quadratic.
EMAIL_RE = re.compile(r"(?<![\w.+*•-])([\w.+*•-]{1,128})@([A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8})")
_AT_RE = re.compile(
    r"[ \t]{0,3}[\[\(\{][ \t]{0,3}at[ \t]{0,3}[\]\)\}][ \t]{0,3}"
    r"|[ \t]{1,3}at[ \t]{1,3}(?=[\w-]{1,64}[ \t]{0,3}[\[\(\{]?[ \t]{0,3}dot)",
    re.I,
)
_DOT_RE = re.compile(r"[ \t]{0,3}[\[\(\{][ \t]{0,3}dot[ \t]{0,3}[\]\)\}][ \t]{0,3}|[ \t]{1,3}dot[ \t]{1,3}", re.I)


_OBFUSCATION_HINT = re.compile(r"[\[\(\{][ \t]{0,3}at[ \t]{0,3}[\]\)\}]|\bdot\b", re.I)


def deobfuscate_email_text(text: str) -> str:
    """Undo the "jane [at] example (dot) com" spellings sites use to dodge scrapers."""
    if not _OBFUSCATION_HINT.search(text):
        return text
    text = _AT_RE.sub("@", text)
    return _DOT_RE.sub(".", text)


def decode_cfemail(hexstr: str) -> str:
    """Cloudflare email protection: the first byte is the XOR key of the rest."""
    try:
        data = bytes.fromhex(hexstr)
    except ValueError:
        return ""
    if len(data) < 2:
        return ""
    key = data[0]
    return bytes(b ^ key for b in data[1:]).decode("utf-8", "replace")


def find_emails(text: str) -> list[tuple[str, bool, str]]:
    """Emails in text as (lower-case address, masked, snippet)."""
    out: list[tuple[str, bool, str]] = []
    text = deobfuscate_email_text(text)
    if "@" not in text:
        return out
    for m in EMAIL_RE.finditer(text):
        user, domain = m.group(1), m.group(2)
        masked = "*" in user or "•" in user
        out.append((f"{user}@{domain}".lower(), masked, m.group(0)))
    return out


def masked_email_compatible(shown: str, mine: str) -> bool:
    """ "b****@example.net" agrees with "bob@example.net": same domain, visible letters in place."""
    user, _, domain = shown.partition("@")
    my_user, _, my_domain = mine.partition("@")
    if domain != my_domain or not user:
        return False
    pattern = "".join(".*" if c in "*•" else re.escape(c) for c in re.sub(r"[*•]+", "*", user))
    return re.fullmatch(pattern, my_user) is not None


# ---------------------------------------------------------------- places and addresses


@lru_cache(maxsize=4096)  # asked for every comma-separated part of every place list on a page
def state_abbr(raw: str) -> str:
    """ "Illinois" or "il" -> "IL"; "" when it is no US state."""
    raw = raw.strip()
    if not raw:
        return ""
    found = us.states.lookup(raw) if len(raw) > 2 else us.states.lookup(raw.upper())
    return found.abbr if found else ""


def state_name(abbr: str) -> str:
    found = us.states.lookup(abbr.upper()) if len(abbr) == 2 else us.states.lookup(abbr)
    return found.name if found else abbr


@dataclass(frozen=True)
class Address:
    """A US street address in USPS form, split so that spellings of the same place compare equal."""

    street: str  # "412 N WALNUT ST" (USPS abbreviations, upper case, no unit)
    unit: str  # "3" (the unit's identifier alone: "Apt 3", "# 3" and "Unit 3" are one unit)
    city: str  # "SPRINGFIELD"
    state: str  # "IL"
    zip: str  # five digits
    original: str
    designator: str = ""  # the unit's designator in USPS form: "APT", "UNIT", "STE", "#"

    @property
    def unit_full(self) -> str:
        """The unit as sites print it in a street line: "Apt 12B" ("" without a unit)."""
        if not self.unit:
            return ""
        word = self.designator if self.designator == "#" else (self.designator or "Unit").title()
        return f"{word} {self.unit}"

    @property
    def street_line(self) -> str:
        """The street with its unit: "1580 Story Rd Apt 12B", how address pages key a unit."""
        return " ".join(p for p in (self.street.title(), self.unit_full) if p)

    @property
    def house(self) -> str:
        return self.street.split(" ", 1)[0] if self.street else ""

    @property
    def street_name(self) -> str:
        return self.street.split(" ", 1)[1] if " " in self.street else ""

    def same_place(self, other: Address) -> bool:
        """Same street line and, where both name one, the same unit, city, state and ZIP."""
        if not self.street or self.street != other.street:
            return False
        for a, b in ((self.unit, other.unit), (self.zip, other.zip), (self.state, other.state)):
            if a and b and a != b:
                return False
        return not (self.city and other.city and fold(self.city) != fold(other.city))


_UNIT_RE = re.compile(r"^(?:#|APT|UNIT|STE|SUITE|RM|ROOM|FL|FLOOR|BLDG|LOT|SPC|TRLR|APARTMENT)\s*#?\s*", re.I)


@lru_cache(maxsize=8192)
def parse_address(raw: str) -> Address | None:
    """USPS-normalised address (usaddress + scourgify), or None when it is not a street address."""
    from scourgify import normalize_address_record
    from scourgify.exceptions import AddressNormalizationError

    text = " ".join(raw.replace("\n", ", ").split())
    if not re.match(r"^\s*\d", text):
        return None
    try:
        rec = normalize_address_record(text)
    except (AddressNormalizationError, ValueError, KeyError, TypeError, IndexError):
        return None
    line1 = (rec.get("address_line_1") or "").upper()
    if not line1 or not line1[0].isdigit():
        return None
    line2 = (rec.get("address_line_2") or "").upper().strip()
    unit = _UNIT_RE.sub("", line2).strip()
    designator = line2[: len(line2) - len(unit)].strip(" #") or ("#" if line2.startswith("#") else "")
    zip5 = (rec.get("postal_code") or "")[:5]
    city, state = (rec.get("city") or "").upper(), (rec.get("state") or "").upper()
    return Address(line1, unit, city, state, zip5, raw, designator if unit else "")


# A street address in free text: number, words, and a street type or unit, then optionally a place.
ADDRESS_RE = re.compile(
    r"(?<![\d\-/.#])\b\d{1,6}(?:-\d{1,4})?\s+(?:[NSEW]{1,2}\.?\s+|(?:North|South|East|West|Northeast|Northwest|Southeast|Southwest)\s+)?"
    # street-name words are words or ordinals ("42nd"), never a bare number: "555-0117 Lives at 2210 SE ..."
    # must not read as house number 555-0117 on a street called "Lives at 2210 SE Hawthorne"
    r"(?:(?:\d+(?:st|nd|rd|th)|[A-Za-z][A-Za-z0-9.'\-]*)\s+){1,5}?(?:St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Dr|Drive|Ln|Lane|Ct|Court|Way|Pl|Place|"
    r"Ter|Terrace|Cir|Circle|Pkwy|Parkway|Hwy|Highway|Trl|Trail|Sq|Square|Loop|Run|Pike|Row)\b\.?"
    r"(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b)?"
    r"(?:[ ,]+(?:Apt|Apartment|Unit|Ste|Suite|#)\.?\s*#?\s*[A-Za-z0-9-]+)?"
    r"(?:,?\s+[A-Za-z .'-]{2,30},\s*[A-Z]{2}(?:\s+\d{5}(?:-\d{4})?)?)?",
)


def find_addresses(text: str, houses: frozenset[str] | None = None) -> list[tuple[Address, str]]:
    """Street addresses in free text. A candidate that does not parse is retried one character on, so that
    "555-0117 Lives at 2210 SE Hawthorne Blvd" still finds the address after the phone number.

    With `houses` (the profile's house numbers), candidates with another house number skip the full USPS
    parse, which is most of the analysis time, and are kept with a cheap split: they cannot be the user's.
    """
    out = []
    pos = 0
    while True:
        m = ADDRESS_RE.search(text, pos)
        if m is None:
            break
        raw = m.group(0).strip()
        house = raw.split(None, 1)[0]
        if houses is not None and house not in houses:
            parsed: Address | None = quick_address(raw)
        else:
            parsed = parse_address(raw)
        if parsed:
            out.append((parsed, raw))
            pos = m.end()
        else:
            pos = m.start() + 1
    return out


# ", Springfield, IL 62702" and ", Springfield IL 62702" (sites drop the comma before the state)
_TAIL_RE = re.compile(r",\s{0,3}([A-Za-z .'-]{2,30}?),?\s{1,3}([A-Z]{2})(?:\s{1,3}(\d{5})(?:-\d{4})?)?$")


@lru_cache(maxsize=16384)
def quick_address(raw: str) -> Address | None:
    """A cheap split of an address that cannot be the user's (no USPS normalisation): enough to show it and
    to know its city and state."""
    m = _TAIL_RE.search(raw)
    street, city, state, zip5 = raw, "", "", ""
    if m:
        street, city, state, zip5 = raw[: m.start()], m.group(1), m.group(2), m.group(3) or ""
        if not state_abbr(state):
            state = ""
    street = " ".join(street.upper().replace(",", " ").split())
    if not street or not street[0].isdigit():
        return None
    return Address(street, "", fold(city).upper(), state.upper(), zip5, raw)


@dataclass(frozen=True)
class Place:
    """A city and state as shown on a listing ("Springfield, IL")."""

    city: str
    state: str


# Labels a place is shown with ("Lives in Springfield, IL"): never part of the city's name.
_PLACE_LABEL = re.compile(
    r"^\s{0,3}(?:(?:currently|previously|also)\s{1,3})?(?:lives|lived|living|resides|resided|located|used\s{1,3}to\s{1,3}live)"
    r"(?:\s{1,3}in)?\b\s{0,3}[:\-]?\s{0,3}|^\s{0,3}(?:(?:current|previous|past|home)\s{0,3})?(?:location|address|city|residence)"
    r"\s{0,3}[:\-]\s{0,3}",
    re.I,
)


def parse_place(raw: str) -> Place:
    """ "Springfield, IL", "Springfield IL 62702", "Lives in Springfield, Illinois" or "Illinois" as (CITY, ST);
    parts may be empty. The state is "" unless it is a real US state."""
    text = _PLACE_LABEL.sub("", raw[:300], count=1)
    text = re.sub(r"\d{5}(-\d{4})?", "", text).strip(" ,")
    if "," in text:
        city, _, state = text.rpartition(",")
        return Place(fold(city).upper(), state_abbr(state.strip()))
    words = text.split()
    if words and state_abbr(words[-1]) and (len(words[-1]) == 2 or len(words) == 1):
        return Place(fold(" ".join(words[:-1])).upper(), state_abbr(words[-1]))
    if state_abbr(text):
        return Place("", state_abbr(text))
    return Place(fold(text).upper(), "")


AGE_RE = re.compile(
    r"(?:\bage[ds]?\b[:\s]{0,3}|\()\s{0,3}(\d{1,3})\b|\b(\d{1,3})\s{0,3}(?:years?\s{0,3}old|yrs?\b|y/o)", re.I
)
# In a listing's free text: "Age 47", "47 years old", or "(47)" beside the name, but never an area code
# "(217)" or the start of a phone number.
AGE_TEXT_RE = re.compile(
    r"\bage[ds]?\b\s{0,3}[:\-]?\s{0,3}(\d{1,3})\b|\b(\d{1,3})\s{0,3}(?:years?\s{0,3}old|yrs?\b|y/o)"
    r"|\((\d{2})\)(?![\s.\-]{0,3}\d)",
    re.I,
)
# What follows a name in a heading and is not part of it: "Jane Testwood Age 47", "Jane Testwood (47)",
# "Jane Testwood • Springfield, IL", "Jane Testwood, 47"
_NAME_TAIL = re.compile(
    r"\s{0,3}(?:\b(?:age|aged)\b|[•·|(\u2022]|,\s{0,3}\d|\s\d{1,3}\b|\bin\s{1,3}[A-Z][a-z]+,).*$", re.I | re.S
)


def clean_shown_name(raw: str) -> str:
    """The name part of a listing's name text, without the age or place a heading puts after it."""
    raw = " ".join(raw[:300].split())
    cleaned = _NAME_TAIL.sub("", raw).strip(" ,-")
    return cleaned or raw


def parse_age(raw: str) -> int | None:
    """The age in "Age 47", "47 years old", "(47)" or a bare "47"."""
    raw = raw.strip()[:300]
    if raw.isdigit():
        age = int(raw) if len(raw) <= 3 else 0
        return age if 0 < age < 120 else None
    m = AGE_RE.search(raw)
    if not m:
        return None
    age = int(m.group(1) or m.group(2))
    return age if 0 < age < 120 else None


def is_truncated(value: str) -> bool:
    """A value the page cut short ("Ellen Holl…", "Ellen Holl..."): partial, never a full name."""
    return value.rstrip().endswith(("…", "..."))
