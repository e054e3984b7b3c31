"""Deletion request letters that disclose nothing new.

A letter to a people-search site must not hand it more than it has: it names the listing addresses and only
the user's data those listings already show (as they show it), never anything from the profile. Relatives'
names are other people's data and are left out. The letter says so in so many words, and leaves a
placeholder for how to answer, so the user chooses an address the site already has or one made for this.

The deadlines quoted:
- CCPA (Cal. Civ. Code 1798.105, 1798.130; CCPA Regulations 11 CCR 7021): confirm receipt within 10 business
  days, answer within 45 calendar days.
- GDPR (Art. 17 erasure; Art. 12(3) within one month of receipt; Art. 19 tell each recipient, and the person
  who they are, on request).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from .models import ExposureKind, SiteResult
from .removal import Law

# What a letter may repeat of a listing: the user's own data as the listing shows it.
_KINDS = (
    ExposureKind.NAME,
    ExposureKind.ALIAS,
    ExposureKind.AGE,
    ExposureKind.LOCATION,
    ExposureKind.ADDRESS,
    ExposureKind.PHONE,
    ExposureKind.EMAIL,
)
_LABEL = {
    ExposureKind.NAME: "Name",
    ExposureKind.ALIAS: "Other name",
    ExposureKind.AGE: "Age",
    ExposureKind.LOCATION: "Town or city",
    ExposureKind.ADDRESS: "Address",
    ExposureKind.PHONE: "Phone",
    ExposureKind.EMAIL: "Email",
}
ANSWER_TO = "[how you want the answer: an email address the listing already shows, or one made for this]"
NOTHING_NEW = (
    "This letter contains only what your site already publishes about me at the addresses above. "
    "It discloses nothing new: do not add anything from it to your records."
)


def shown(site: SiteResult) -> list[tuple[str, list[tuple[str, str]]]]:
    """Per listing of the user: its URL and the user's data it shows, as (label, value as on the page)."""
    out = []
    for v in site.user_listings:
        values: list[tuple[str, str]] = []
        for e in v.exposed:
            if e.kind in _KINDS and (e.matches_profile or (v.is_user and e.kind is ExposureKind.NAME)):
                if not e.partial and (_LABEL[e.kind], e.value) not in values:
                    values.append((_LABEL[e.kind], e.value))
        values.sort(key=lambda lv: list(_LABEL.values()).index(lv[0]))
        out.append((v.listing.url, values))
    return out


def _body(law: Law, name: str) -> list[str]:
    if law is Law.CCPA:
        return [
            "Subject: Request to delete personal information (California Consumer Privacy Act)",
            "",
            f"To {name},",
            "",
            "I am a California consumer. Under the California Consumer Privacy Act (Cal. Civ. Code section "
            "1798.105), I ask you to delete the personal information you hold about me, including every listing "
            "below and any copy of it, and, under section 1798.120, not to sell or share it.",
            "",
            "Please confirm that you received this request within 10 business days, and tell me what you did "
            "within 45 calendar days of receiving it (Cal. Civ. Code section 1798.130; 11 CCR section 7021).",
        ]
    if law is Law.GDPR:
        return [
            "Subject: Request for erasure under Article 17 GDPR",
            "",
            f"To {name},",
            "",
            "Under Article 17 of the General Data Protection Regulation I ask you to erase without undue delay the "
            "personal data you hold about me, including every listing below and any copy of it.",
            "",
            "Please answer without undue delay and in any event within one month of receiving this request "
            "(Article 12(3)). Please also communicate the erasure to each recipient to whom you disclosed these "
            "data, and tell me who they are (Article 19).",
        ]
    return [
        "Subject: Please remove my personal information",
        "",
        f"To {name},",
        "",
        "Your site publishes personal information about me. Please remove every listing below and any copy of it, "
        "stop publishing or selling it, and confirm to me when this is done.",
    ]


def letter(site: SiteResult, law: Law, today: date | None = None, scan_finished: str = "") -> str:
    """The letter as plain text. Raises ValueError when the scan found no listing of the user on the site."""
    listings = shown(site)
    if not listings:
        raise ValueError(f"the scan found no listing of you on {site.site.name}: there is nothing to ask it to remove")
    lines = [f"Date: {(today or date.today()).isoformat()}", *_body(law, site.site.name), ""]
    lines.append("The listings (as found by a scan" + (f" on {scan_finished[:10]}" if scan_finished else "") + "):")
    for n, (url, values) in enumerate(listings, start=1):
        lines += ["", f"{n}. {url}"]
        lines += [f"   {label}: {value}" for label, value in values]
    lines += [
        "",
        NOTHING_NEW,
        "",
        f"Please send your answer to: {ANSWER_TO}",
        "",
        "[your name as the listing shows it]",
        "",
    ]
    return "\n".join(lines)


def law_choices() -> Sequence[str]:
    return [law.value for law in Law]
