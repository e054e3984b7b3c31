"""The Markdown report: the same findings as the HTML, for pasting into an email or a support ticket.

It reads well as plain text (most mail clients show it unrendered) and renders safely as Markdown:
scraped text has Markdown and HTML punctuation backslash-escaped, so a page cannot inject links,
images or raw HTML into a renderer; only `view.safe_url` URLs become links (as `<autolinks>`), and
anything else is shown inside a code span.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..models import ScanResult
from .view import Link, ListingView, ReportView, SiteRef, and_list, build

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that can start
# markup mid-line (emphasis, links, images, raw HTML, entities, tables, strikethrough, code).
_SPECIAL = re.compile(r"([\\`*_\[\]<>!|~&])")
# ...and these only at the start of a line (headings, lists, quotes, thematic breaks, "1." lists).
_LINE_START = re.compile(r"^(\d*)([#>+=-]|(?<=\d)[.)])")


# What GitHub-flavoured Markdown turns into a link by itself, with no markup: bare URLs, "www." names and
# email addresses. Scraped text holding one is shown in a code span, so only our own links are links.
_AUTOLINKABLE = re.compile(r"(?i)\b(?:https?|ftp)://|\bwww\.|[\w.+-]@[\w-]+\.[\w-]")


def text(value: str, *, line_start: bool = False) -> str:
    """Scraped or user text as one safe line of Markdown (`line_start`: it begins a line)."""
    if _AUTOLINKABLE.search(str(value)):
        return code(value)
    flat = _SPECIAL.sub(r"\\\1", " ".join(str(value).split()))
    return _LINE_START.sub(r"\1\\\2", flat) if line_start else flat


def code(value: str) -> str:
    """Text shown verbatim in a code span, with a fence longer than any backtick run inside it."""
    flat = " ".join(str(value).split())
    longest = max((len(m) for m in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or not flat else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def link(target: Link) -> str:
    """An http(s) URL as an autolink; anything else as code, so it never becomes clickable."""
    if target.href:
        return f"<{target.href}>"
    return f"{code(target.text)} (not a safe web address, so not a link)"


def _names(refs: Iterable[SiteRef], escape: bool = True) -> str:
    return and_list(text(r.name) if escape else r.name for r in refs)


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _listing(lv: ListingView, lines: list[str], *, why: str) -> None:
    lines.append(f"- Listing: {link(lv.link)}")
    for row in lv.values:
        marks = [m for m, on in (("yours", row.yours), ("partly hidden on the site", row.partial)) if on]
        suffix = f" ({', '.join(marks)})" if marks else ""
        lines.append(f"- {row.label}: {text(row.value)}{suffix}")
    if lv.reasons:
        lines.append(f"- {why}: " + "; ".join(text(r) for r in lv.reasons))
    for snippet in lv.evidence:
        lines.append(f"- Page text: “{text(snippet)}”")


def render_view(r: ReportView) -> str:
    s = r.summary
    lines: list[str] = ["# Where your information is published", ""]
    who = f" for {text(r.scan.profile_label)}" if r.scan.profile_label else ""
    lines += [f"Scan{who}, {text(r.started)}.", ""]
    if r.scan.interrupted:
        lines += ["**This scan was stopped before it finished.** Some sites were not checked.", ""]
    lines.append(f"**{text(r.headline)}**")
    if s["found"]:
        lines.append(f"{_plural(s['listings'], 'listing', 'listings')} about you.")
    extra = (
        [f"{_plural(s['unconfirmed'], 'listing', 'listings')} with your name to check yourself"]
        if s["unconfirmed"]
        else []
    )
    if s["by_hand"]:
        extra.append(f"{_plural(s['by_hand'], 'site', 'sites')} to check by hand")
    lines.append(
        f"{_plural(s['not_found'], 'site does', 'sites do')} not list you; "
        f"we could not check {_plural(s['could_not_check'], 'site', 'sites')}; "
        + "; ".join([*extra, _plural(s["namesakes"], "possible namesake", "possible namesakes")])
        + "."
    )
    if r.changes:
        lines += ["", text(r.changes)]
        lines += [f"- gone: {text(name)}: {code(url)}" for name, url in r.gone]
    if r.removals:
        lines += ["", "Your removal requests:"]
        lines += [f"- {text(name)}: {text(state)}" for name, state in r.removals]
    lines += ["", "## What is out there about you", ""]
    for k in r.kinds:
        if k.count:
            where = f"on {_plural(k.count, 'site', 'sites')}: {_names(k.sites)}"
            if k.which:
                where = f"{text(k.which)}, {where}"
        elif k.clear:
            where = "not seen on any site"
        else:
            unknown = s["sites"] - s["answered"]
            checked = _plural(s["answered"], "site", "sites")
            where = f"not seen on the {checked} we could check; unknown on the other {unknown}"
        lines.append(f"- {k.label}: {where}")

    if r.drop:
        lines += ["", "## You have a California address: one request reaches every registered broker", ""]
        lines.append(
            "California's Delete Request and Opt-out Platform (DROP) sends one deletion request to every data broker"
            " in the state's registry; since 1 August 2026 registered brokers must process it every 45 days: "
            + link(r.drop.link)
        )
        if r.drop.registered:
            lines.append(f"Of the sites that list you, DROP reaches {_names(r.drop.registered)}.")
        lines.append(
            "It does not reach brokers missing from the registry, nor public records."
            + (
                f" Not in the registry, so use their own opt-outs: {_names(r.drop.unregistered)}."
                if r.drop.unregistered
                else ""
            )
        )
    if r.actions:
        lines += ["", "## Removal checklist, most urgent first", ""]
        for i, a in enumerate(r.actions, 1):
            head = (
                f"Send the opt-out request to {text(a.site.name)}"
                if a.opt_out
                else (f"Find how to remove yourself from {text(a.site.name)}")
            )
            lines.append(f"{i}. [ ] {head}" + (f": {link(a.opt_out.link)}" if a.opt_out else ""))
            notes = [f"shows your {and_list(a.shows)}"] if a.shows else []
            if len(a.removes) > 1:
                notes.append(f"one request removes you from {_names(a.removes, escape=False)}")
            if a.opt_out:
                notes.append(a.opt_out.duration.lower())
            if notes:
                lines.append(f"   ({text('; '.join(notes))})")

    if r.cards:
        lines += ["", "## Where you are listed", ""]
    for c in r.cards:
        info = c.result.site
        lines += [f"### {text(info.name or info.id)} ({text(info.domain)})", ""]
        if c.parent:
            lines += [f"Owned by {text(c.parent)}.", ""]
        for lv in c.listings:
            lines.append(f"{text(lv.sureness[:1].upper() + lv.sureness[1:], line_start=True)}:")
            lines.append("")
            _listing(lv, lines, why="Why we think it is you")
            lines.append("")
        o = c.next_opt_out
        if c.covered:
            lines.append(
                f"The same request as for {text(c.action.site.name)} removes you from this site too: send that one."
            )
        if o is None:
            lines.append("Opt-out: not known yet; look on the site for “opt out” or “remove my information”.")
        else:
            whose = f"{text(c.action.site.name)}'s opt-out" if c.covered else "Opt-out"
            lines.append(f"{whose}: {link(o.link)} ({text(o.method)}; {o.duration.lower()}).")
            if o.requires:
                lines.append("It will ask for: " + "; ".join(text(q) for q in o.requires) + ".")
            if o.covers and not c.covered:
                lines.append(f"The same request also removes you from {_names(o.covers)}.")
            steps = [text(step) for step in o.step_list]
            if steps:
                lines += ["Steps:", "", *(f"{i}. {step}" for i, step in enumerate(steps, 1))]
        lines.append("")

    if r.unchecked:
        lines += ["## Could not check", ""]
        for u in r.unchecked:
            info = u.result.site
            by_hand = f" Search by hand: {link(u.search_by_hand)}" if u.search_by_hand else ""
            lines.append(f"- {text(info.name or info.id)} ({text(info.domain)}): {text(u.reason)}{by_hand}")
        lines.append("")

    if r.unconfirmed:
        lines += ["## Check these listings yourself", ""]
        lines += ["Each carries your name, and nothing on it told us whether it is you. Open each one and look.", ""]
        for n in r.unconfirmed:
            lines.append(f"{text(n.site.site.name or n.site.site.id, line_start=True)} ({text(n.site.site.domain)}):")
            lines.append("")
            _listing(n.listing, lines, why="What we could tell")
            lines.append("")

    if r.namesakes:
        lines += ["## Possible namesakes (probably not you)", ""]
        for n in r.namesakes:
            lines.append(f"{text(n.site.site.name or n.site.site.id, line_start=True)} ({text(n.site.site.domain)}):")
            lines.append("")
            _listing(n.listing, lines, why="Why we think it is someone else")
            lines.append("")

    if r.by_hand:
        lines += ["## Check by hand", ""]
        lines += ["These sites cannot be checked automatically; this scan says nothing about them.", ""]
        for b in r.by_hand:
            where = f" Search: {link(b.search)}" if b.search else ""
            opt = f" Opt-out: {link(b.opt_out.link)}" if b.opt_out else ""
            why = f" {text(b.why)}" if b.why else ""
            lines.append(f"- {text(b.site.name or b.site.id)} ({text(b.site.domain)}):{why}{where}{opt}")
        lines.append("")

    if r.not_listed:
        lines += ["## Not listed", ""]
        names = [f"{text(n.result.site.name or n.result.site.id)} ({text(n.result.site.domain)})" for n in r.not_listed]
        lines += [_LINE_START.sub(r"\1\\\2", ", ".join(names)) + ".", ""]

    lines.append(f"Scan {code(r.scan.id)}, finished {text(r.finished)}. This report contains personal information.")
    return "\n".join(lines) + "\n"


class MarkdownReporter:
    suffix = ".md"

    def render(self, scan: ScanResult) -> bytes:
        return render_view(build(scan)).encode("utf-8")
