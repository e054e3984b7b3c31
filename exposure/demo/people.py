"""The synthetic people the demo sites know about.

Everyone here is invented: phones are in the fictional 555-01xx range, emails use example.com/.net/.org
and the streets do not exist. `DEMO_PERSON` is the person described by `profile.toml`; the others are
there so that result pages look like result pages, and `NAMESAKE` shares the demo person's name but
lives elsewhere and is decades younger, so a correct scan must not count her.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..normalize import fold, state_name


@dataclass(frozen=True)
class Person:
    """One synthetic person, with everything any demo site might show about them."""

    key: str  # stable token in the person's page URL
    first: str
    middle: str
    last: str
    birth_year: int
    street: str  # "1207 Larkspur Ave"
    unit: str  # "Apt 2B" or ""
    city: str
    state: str  # two letters
    zip: str
    phones: tuple[str, ...] = ()  # ten digits each
    emails: tuple[str, ...] = ()
    relatives: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    past_addresses: tuple[str, ...] = ()  # one line each, most recent first

    @property
    def age(self) -> int:
        # Computed, not stored, so the demo person's age stays within a year of her birth year forever.
        return date.today().year - self.birth_year

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first, self.middle, self.last) if p)

    @property
    def short_name(self) -> str:
        """First, middle initial, last: "Margaret A. Calloway"."""
        initial = f"{self.middle_initial}." if self.middle else ""
        return " ".join(p for p in (self.first, initial, self.last) if p)

    @property
    def middle_initial(self) -> str:
        return self.middle[:1]

    @property
    def street_line(self) -> str:
        return f"{self.street} {self.unit}".strip()

    @property
    def address_line(self) -> str:
        return f"{self.street_line}, {self.city}, {self.state} {self.zip}"

    @property
    def place(self) -> str:
        return f"{self.city}, {self.state}"

    @property
    def slug(self) -> str:
        """The name-and-place slug people-search sites put in profile URLs."""
        words = fold(f"{self.first} {self.middle_initial} {self.last} {self.city} {self.state}").split()
        return "-".join(words) + f"-{self.key}"

    def named(self, first: str, last: str) -> bool:
        """Whether a search for this first and last name finds this person (the sites match exactly)."""
        return fold(first) == fold(self.first) and fold(last) == fold(self.last)

    def named_slug(self, slug: str) -> bool:
        """Whether a "first-last" slug from a URL path is this person's name."""
        return fold(slug) == fold(f"{self.first} {self.last}")

    def in_state(self, state: str) -> bool:
        """Two-letter code or full name, any case; an empty state matches everywhere."""
        wanted = fold(state)
        return not wanted or wanted in (fold(self.state), fold(state_name(self.state)))

    def lives_at(self, street: str, city: str, state: str) -> bool:
        """The current address, compared the way a site compares URL slugs: case and punctuation folded."""
        return fold(street) == fold(self.street) and fold(city) == fold(self.city) and self.in_state(state)

    def has_phone(self, digits: str) -> bool:
        return digits in self.phones

    def has_email(self, email: str) -> bool:
        return email.strip().lower() in self.emails


def pretty_phone(digits: str) -> str:
    """(608) 555-0117; masked digits pass through as they are ("(608) 555-01XX")."""
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}" if len(digits) == 10 else digits


DEMO_PERSON = Person(
    key="P4M7Q2",
    first="Margaret",
    middle="Ann",
    last="Calloway",
    birth_year=1968,
    street="1207 Larkspur Ave",
    unit="Apt 2B",
    city="Madison",
    state="WI",
    zip="53703",
    phones=("6085550117", "4145550163"),
    emails=("peggy.calloway@example.net", "m.calloway68@example.org"),
    relatives=("Thomas Calloway", "Ruth Brightwater"),
    aliases=("Peggy Calloway", "Margaret Brightwater"),
    past_addresses=("45 Quarry Hill Rd, Rochester, MN 55901",),
)

# Same first and last name, same state: only the city, age, phone and address tell them apart.
NAMESAKE = Person(
    key="K8D3W1",
    first="Margaret",
    middle="Jo",
    last="Calloway",
    birth_year=1994,
    street="310 Birchwood Ct",
    unit="",
    city="Green Bay",
    state="WI",
    zip="54301",
    phones=("9205550190",),
    emails=("mjcalloway@example.com",),
    relatives=("Linda Calloway",),
)

MARTIN = Person(
    key="M2R9T5",
    first="Martin",
    middle="Lee",
    last="Calloway",
    birth_year=1979,
    street="88 Pinecrest Dr",
    unit="",
    city="Milwaukee",
    state="WI",
    zip="53207",
    phones=("4145550134",),
    emails=("martin.calloway@example.com",),
    relatives=("Sharon Calloway",),
)

GERALD = Person(
    key="G5H1N8",
    first="Gerald",
    middle="Wayne",
    last="Calloway",
    birth_year=1951,
    street="17 Old Mill Rd",
    unit="",
    city="Eau Claire",
    state="WI",
    zip="54701",
    phones=("7155550121",),
    relatives=("Martin Calloway", "Joan Calloway"),
)

DENISE = Person(
    key="D6C4V0",
    first="Denise",
    middle="",
    last="Calloway-Pratt",
    birth_year=1972,
    street="2290 Harbor View Ln",
    unit="",
    city="Kenosha",
    state="WI",
    zip="53140",
    phones=("2625550148",),
    emails=("dcpratt@example.org",),
)

# Lives in the demo person's building, one floor down: an address search lists both.
DEVON = Person(
    key="A1S7G3",
    first="Devon",
    middle="",
    last="Ashgrove",
    birth_year=1990,
    street="1207 Larkspur Ave",
    unit="Apt 1A",
    city="Madison",
    state="WI",
    zip="53703",
    phones=("6085550175",),
    emails=("devon.ashgrove@example.com",),
)

# Only on the site that does not list the demo person, so its name searches can still find someone.
HAROLD = Person(
    key="H3B8L6",
    first="Harold",
    middle="",
    last="Brightwater",
    birth_year=1947,
    street="9 Fernhollow Way",
    unit="",
    city="Duluth",
    state="MN",
    zip="55803",
    phones=("2185550109",),
)
