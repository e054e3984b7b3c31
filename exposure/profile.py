"""The user's identity: loaded from TOML, validated at the edge, normalised once for matching.

The profile is the most sensitive file this tool touches. It leaves the machine only as the
queries sent to the sites themselves, and is written 0600 in a 0700 folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path

import phonenumbers
import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from .errors import ProfileError
from .files import write_private as write_private  # re-exported for callers of the old place
from .normalize import Address, PersonName, parse_address, parse_name, phone_digits, state_abbr
from .tomlfile import raise_invalid, read_toml


def phone_problem(raw: str, country: str = "US") -> str:
    """Why `raw` is not a full phone number of `country` (or with its own +code), or "" when it is one.

    A full number is needed: a 7-digit local number or a 9-digit typo would search every site for
    someone else's number. The fictional 555-01xx numbers of films and of our fixtures are full numbers.
    """
    digits = re.sub(r"\D", "", raw)
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        return f"{raw!r} is not a phone number"
    if phonenumbers.is_possible_number(number) and phonenumbers.is_valid_number(number):
        return ""
    region = phonenumbers.region_code_for_number(number) or country
    return f"{raw!r} is not a full phone number for {region} ({len(digits)} digits)"


MAX_PROFILE_BYTES = 256 * 1024  # a profile with 20 of everything is under 10 KB


MAX_EACH = 20  # names, phones, emails, addresses, relatives: each one multiplies the searches sent to every site


class ProfileFile(BaseModel):
    """The profile TOML as the user writes it."""

    model_config = ConfigDict(extra="forbid")

    # first, so the phone check knows the country (pydantic validates fields in this order)
    country: str = "US"
    name: str = Field(min_length=1)
    aliases: list[str] = []  # nicknames, maiden and other former names
    birth_year: int | None = Field(default=None, ge=1900, le=date.today().year)
    phones: list[str] = []
    emails: list[str] = []
    addresses: list[str] = []  # the first is the current one
    relatives: list[str] = []
    not_me: list[str] = []  # listing URLs the user has said are someone else

    @field_validator("aliases", "phones", "emails", "addresses", "relatives", mode="before")
    @classmethod
    def _bounded(cls, v: object, info: ValidationInfo) -> object:
        if isinstance(v, list) and len(v) > MAX_EACH:
            raise ValueError(f"at most {MAX_EACH} {info.field_name} (this profile has {len(v)})")
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if parse_name(v) is None or len(v.split()) < 2:
            raise ValueError("give a first and a last name")
        return v.strip()

    @field_validator("phones")
    @classmethod
    def _phones(cls, v: list[str], info: ValidationInfo) -> list[str]:
        country = str(info.data.get("country") or "US")
        for raw in v:
            problem = phone_problem(raw, country)
            if problem:
                raise ValueError(problem)
        return v

    @field_validator("emails")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        for raw in v:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", raw.strip()):
                raise ValueError(f"{raw!r} is not an email address")
        return [e.strip() for e in v]

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        for raw in v:
            parsed = parse_address(raw)
            if parsed is None:
                raise ValueError(
                    f"{raw!r} is not a street address I can read "
                    '(write it like "412 N Walnut St Apt 3, Springfield, IL 62702")'
                )
            if not parsed.state:
                raise ValueError(f"{raw!r} needs a city and state")
        return v


@dataclass(frozen=True)
class Profile:
    """The normalised identity every later stage works from."""

    name: PersonName
    aliases: tuple[PersonName, ...]
    birth_year: int | None
    phones: tuple[str, ...]  # national digits
    phones_raw: tuple[str, ...]
    emails: tuple[str, ...]  # lower case
    addresses: tuple[Address, ...]
    relatives: tuple[PersonName, ...]
    not_me: frozenset[str]
    country: str = "US"

    @cached_property
    def names(self) -> tuple[PersonName, ...]:
        """The legal name first, then every alias that is a full name."""
        return (self.name, *(a for a in self.aliases if a.last))

    @cached_property
    def places(self) -> tuple[tuple[str, str], ...]:
        """Distinct (CITY, ST) of the profile's addresses, current first."""
        seen: dict[tuple[str, str], None] = {}
        for a in self.addresses:
            seen.setdefault((a.city, a.state), None)
        return tuple(seen)

    @cached_property
    def houses(self) -> frozenset[str]:
        """House numbers of the user's addresses: an address with another one cannot be theirs."""
        return frozenset(a.house for a in self.addresses)

    @cached_property
    def states(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for _, s in self.places if s))

    def age_range(self, today: date | None = None) -> tuple[int, int] | None:
        """Ages the user can be shown with: a birthday may or may not have passed this year."""
        if self.birth_year is None:
            return None
        year = (today or date.today()).year
        return (year - self.birth_year - 1, year - self.birth_year)


def from_file_model(data: ProfileFile) -> Profile:
    name = parse_name(data.name)
    assert name is not None  # validated
    aliases = []
    for raw in data.aliases:
        alias = parse_name(raw)
        if alias is None:
            continue
        if not alias.last:  # a bare nickname ("Bob") keeps the legal surname
            alias = PersonName(alias.first, (), name.last, raw)
        aliases.append(alias)
    return Profile(
        name=name,
        aliases=tuple(aliases),
        birth_year=data.birth_year,
        phones=tuple(dict.fromkeys(phone_digits(p, data.country) for p in data.phones)),
        phones_raw=tuple(data.phones),
        emails=tuple(dict.fromkeys(e.lower() for e in data.emails)),
        addresses=tuple(a for a in (parse_address(x) for x in data.addresses) if a),
        relatives=tuple(r for r in (parse_name(x) for x in data.relatives) if r),
        not_me=frozenset(data.not_me),
        country=data.country,
    )


def load_profile(path: Path) -> Profile:
    """Read, validate and normalise a profile; raise ProfileError naming the file, field and problem."""
    text, raw = read_toml(
        path, ProfileError, missing="no profile here; create one with `exposure init`", max_bytes=MAX_PROFILE_BYTES
    )
    try:
        data = ProfileFile.model_validate(raw)
    except ValidationError as exc:
        raise_invalid(path, text, exc, ProfileError, "field")
    except RecursionError as exc:
        raise ProfileError(path, "", "arrays or inline tables are nested too deeply") from exc
    return from_file_model(data)


def default_profile_path() -> Path:
    """The profile in the platform's user config folder (~/.config/exposure/profile.toml on Linux)."""
    return Path(platformdirs.user_config_dir("exposure")) / "profile.toml"


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def dump_profile(data: ProfileFile) -> str:
    """The profile as TOML, in the order a person reads it."""
    lines = [f"name = {_toml_str(data.name)}"]
    if data.birth_year:
        lines.append(f"birth_year = {data.birth_year}")
    for key in ("aliases", "phones", "emails", "addresses", "relatives", "not_me"):
        values: list[str] = getattr(data, key)
        lines.append(f"{key} = [{', '.join(_toml_str(v) for v in values)}]")
    return "\n".join(lines) + "\n"


def place_label(city: str, state: str) -> str:
    return ", ".join(p for p in (city.title(), state_abbr(state) or state) if p)
