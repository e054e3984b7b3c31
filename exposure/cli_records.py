"""The commands about what is kept: `history`, `diff`, `evidence export|verify`, `optout`, `removals`,
`letter` and `forget`. Parse options, call, print; the work is in history.py, evidence.py, removal.py,
letter.py and forget.py."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from .cli import HELP, _Command, _fail, _Group, _load_rules, _print_removals, app, console, out
from .errors import ConfigError, HistoryError
from .history import History, ScanRow, default_history_dir
from .models import Status
from .profile import default_profile_path, write_private
from .recording import removals
from .removal import Law
from .report.interface import Format
from .report.write import reporter_for
from .rules import ManualSite, Rule
from .summary import EXIT_BAD_INPUT, EXIT_CLEAN

evidence_app = typer.Typer(
    cls=_Group,
    help="Export and verify the evidence kept for your listings.",
    no_args_is_help=True,
    context_settings=HELP,
)
app.add_typer(evidence_app, name="evidence")

HistoryOpt = Annotated[
    Path | None,
    typer.Option("--history-dir", help="Where scans and evidence are kept (default: your user data folder)."),
]
RulesOpt = Annotated[
    list[Path] | None,
    typer.Option("--rules", help="Rule folders (default: the bundled catalog)."),
]


def _history(folder: Path | None) -> History:
    path = folder or default_history_dir()
    try:
        return History.open(path)
    except ConfigError as exc:
        raise _fail(exc) from exc


def _find(history: History, ref: str | None, default: int = -1) -> ScanRow:
    rows = history.scans()
    if not rows:
        raise _fail(f"{history.path}: no scans yet: run `exposure scan`")
    try:
        return history.find(ref) if ref else rows[default]
    except (HistoryError, IndexError) as exc:
        raise _fail(exc if isinstance(exc, HistoryError) else "there is no earlier scan to compare with") from exc


@app.command("history", cls=_Command)
def history_cmd(history_dir: HistoryOpt = None) -> None:
    """List the scans remembered, oldest first, with what each found."""
    with _history(history_dir) as h:
        rows = h.scans()
        if not rows:
            out.print("No scans yet: run `exposure scan`.")
            return
        for n, r in enumerate(rows, start=1):
            state = {"running": "killed or running", "interrupted": "interrupted"}.get(r.state, "finished")
            when = (r.finished_at or r.started_at)[:16].replace("T", " ")
            kind = f"{r.kind} of {r.based_on}" if r.based_on else r.kind
            out.print(
                f"#{n:<3} {r.id}  {when} UTC  {kind}, {state}: {r.done} of {len(r.planned)} site(s) done, "
                f"listed on {r.found}, {r.could_not_check} could not be checked, {r.listings} listing(s)",
                highlight=False,
                soft_wrap=True,
            )
        if h.unfinished() is not None:
            out.print("The last scan did not finish: `exposure scan --resume` finishes it.")


@app.command("diff", cls=_Command)
def diff_cmd(
    old: Annotated[
        str | None, typer.Argument(help="The earlier scan: number in `exposure history` or id prefix.")
    ] = None,
    new: Annotated[str | None, typer.Argument(help="The later scan (default: the newest).")] = None,
    history_dir: HistoryOpt = None,
) -> None:
    """What changed between two scans: new listings, listings gone, still listed, not checkable."""
    with _history(history_dir) as h:
        newer = _find(h, new)
        if old:
            older = _find(h, old)
        else:
            earlier = [
                r
                for r in h.scans()
                if r.started_at < newer.started_at or (r.started_at == newer.started_at and r.id < newer.id)
            ]
            if not earlier:
                raise _fail("there is no earlier scan to compare with")
            older = earlier[-1]
        try:
            scan = h.load(newer)
        except ConfigError as exc:
            raise _fail(exc) from exc
        sites = [s.site.id for s in scan.sites] if newer.kind == "recheck" else None
        c = h.compare(scan, older, sites)
        out.print(f"From scan {older.id} to scan {newer.id}:", highlight=False, soft_wrap=True)
        names = {s.site.id: s.site.name for s in scan.sites}
        from .findings import current_findings

        now = current_findings(scan)
        for fid in c.new:
            s, v = now[fid]
            out.print(f"  [bold red]new[/]           {s.site.name}: {v.listing.url}", highlight=False, soft_wrap=True)
        for fid in c.still_listed:
            s, v = now[fid]
            out.print(f"  [yellow]still listed[/]  {s.site.name}: {v.listing.url}", highlight=False, soft_wrap=True)
        for fid in c.gone:
            g = c.gone_details[fid]
            out.print(f"  [green]gone[/]          {g.site_name}: {g.url}", highlight=False, soft_wrap=True)
        for fid in c.unknown:
            g = c.gone_details[fid]
            why = "not in this scan" if g.site_id not in names else "the site could not be checked in full"
            out.print(f"  not checkable  {g.site_name}: {g.url} ({why})", highlight=False, soft_wrap=True)
        out.print(
            f"{len(c.new)} new, {len(c.still_listed)} still listed, {len(c.gone)} gone, "
            f"{len(c.unknown)} not checkable.",
            highlight=False,
        )


@evidence_app.command("export", cls=_Command)
def evidence_export(
    scan_ref: Annotated[
        str | None, typer.Argument(metavar="[SCAN]", help="Number or id prefix (default: the newest).")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the zip.")] = Path("reports"),
    history_dir: HistoryOpt = None,
) -> None:
    """Write one zip with the pages, screenshots, a WARC, the reports and a hashed manifest."""
    from .evidence import export, take_screenshots

    with _history(history_dir) as h:
        row = _find(h, scan_ref)
        try:
            scan = h.load(row)
        except ConfigError as exc:
            raise _fail(exc) from exc
        shots = take_screenshots(h.folder, h.db, row.id)  # any a crashed or offline run did not take
        for why in shots.failed[:3]:
            console.print(f"[yellow]screenshot not taken:[/] {why}", highlight=False, soft_wrap=True)
        reports = {
            f"exposure-{scan.id}{reporter_for(f).suffix}": reporter_for(f).render(scan)
            for f in (Format.HTML, Format.JSON)
        }
        path = out_dir / f"exposure-evidence-{row.id}.zip"
        try:
            done = export(h.folder, h.db, row.id, path, reports)
        except ConfigError as exc:
            raise _fail(exc) from exc
        h.record_output(path, "evidence")
    out.print(
        f"Evidence: {done.path.resolve()} ({done.pages} page(s), {done.screenshots} screenshot(s), {done.files} files)",
        highlight=False,
    )
    out.print(f"SHA-256 of its manifest.csv: {done.manifest_sha256}", highlight=False, soft_wrap=True)
    out.print("Write this down or send it to yourself: `exposure evidence verify` shows it again for comparison.")


@evidence_app.command("verify", cls=_Command)
def evidence_verify(zip_path: Annotated[Path, typer.Argument(metavar="ZIP", help="An evidence zip.")]) -> None:
    """Re-check every hash in an evidence zip; names each file that changed (exit 1)."""
    from .evidence import verify

    try:
        result = verify(zip_path)
    except ConfigError as exc:
        raise _fail(exc) from exc
    out.print(f"SHA-256 of its manifest.csv: {result.manifest_sha256}", highlight=False, soft_wrap=True)
    if result.ok:
        out.print(f"[green]OK:[/] all {result.checked} file(s) match the manifest.", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_CLEAN)
    for p in result.problems:
        out.print(f"[bold red]FAILED:[/] {p}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _site(rules: list[Rule | ManualSite], site: str) -> Rule | ManualSite:
    for r in rules:
        if site.lower() in (r.id, r.domain.lower(), r.name.lower()):
            return r
    raise _fail(f"no site {site!r} in the catalog (see `exposure rules check`)")


def _covered(rules: list[Rule | ManualSite], rule: Rule | ManualSite) -> list[str]:
    """The site and the sister sites its opt-out covers (`opt_out.covers` names their domains)."""
    covers = set(rule.opt_out.covers) if rule.opt_out else set()
    return [rule.id, *(r.id for r in rules if r.id != rule.id and r.domain in covers)]


@app.command(cls=_Command)
def optout(
    site: Annotated[str, typer.Argument(help="The site's id, domain or name; or `drop` for California's DROP.")],
    asked: Annotated[
        bool | None, typer.Option("--asked/--steps-only", help="Record that you asked (default: ask you).")
    ] = None,
    on: Annotated[str | None, typer.Option("--date", help="The day you asked, YYYY-MM-DD (default: today).")] = None,
    method: Annotated[str | None, typer.Option(help="How you asked (default: the site's method).")] = None,
    law: Annotated[Law | None, typer.Option(help="The law your request named (sets the deadline).")] = None,
    request_id: Annotated[str, typer.Option(help="The request ID you were given (DROP gives one).")] = "",
    rules: RulesOpt = None,
    history_dir: HistoryOpt = None,
) -> None:
    """Show how to get removed from a site, and record that you asked, so later scans follow it up."""
    try:
        catalog = _load_rules(rules)
    except ConfigError as exc:
        raise _fail(exc) from exc
    entries: list[Rule | ManualSite] = [*catalog.rules, *catalog.manual]
    try:
        asked_on = date.fromisoformat(on) if on else date.today()
    except ValueError as exc:
        raise _fail(f"--date {on!r}: not a date like 2026-11-03") from exc
    if asked_on > date.today():
        raise _fail(f"--date {on}: that day has not come yet")
    if site.lower() == "drop":
        registered = [r for r in entries if r.registry.california]
        out.print(
            "California's Delete Request and Opt-out Platform (DROP) sends one deletion request to every data broker "
            "registered in California. Make the request on the California Privacy Protection Agency's DROP site; "
            "it gives you a request ID. Registered brokers must process it and then check for new data about you "
            "every 45 days.",
            highlight=False,
        )
        out.print(f"{len(registered)} site(s) in the catalog are registered brokers and are followed up together.")
        tracked = [r.id for r in registered]
        name, site_id, days, how, law_value = "California DROP", "drop", None, "drop", Law.CCPA.value
    else:
        rule = _site(entries, site)
        o = rule.opt_out
        out.print(f"[bold]{rule.name}[/] ({rule.domain})", highlight=False, soft_wrap=True)
        if o is None:
            out.print("This site's rule has no opt-out facts: look for a privacy or removal page on the site.")
        else:
            out.print(
                f"Where: {o.url}\nHow: {o.method}" + (f"\nYou need: {', '.join(o.requires)}" if o.requires else ""),
                highlight=False,
            )
            if o.steps:
                out.print(o.steps.strip(), highlight=False, soft_wrap=True)
            if o.days is not None:
                out.print(f"Usually takes {o.days} day(s).", highlight=False, soft_wrap=True)
        tracked = _covered(entries, rule)
        names = {e.id: e.name for e in entries}
        if len(tracked) > 1:
            out.print(
                f"The same request covers: {', '.join(names.get(t, t) for t in tracked[1:])} (followed up together).",
                highlight=False,
                soft_wrap=True,
            )
        name, site_id, days = rule.name, rule.id, (o.days if o else None)
        how, law_value = method or (o.method if o else "web form"), (law.value if law else "")
    if asked is None:
        if not sys.stdin.isatty():
            out.print("Run again with --asked once you have sent the request, so later scans follow it up.")
            return
        asked = typer.confirm("Have you sent the removal request?", default=False)
    if not asked:
        return
    with _history(history_dir) as h:
        r = h.add_request(
            site_id, name, asked_on, method or how, law=law_value, request_id=request_id, tracked=tracked, days=days
        )
    deadline = f"; overdue after {r.deadline_days} days" if r.deadline_days is not None else ""
    out.print(
        f"Recorded: asked {name} on {asked_on.isoformat()} ({r.method}{deadline}). Later scans follow it up.",
        highlight=False,
    )


@app.command("removals", cls=_Command)
def removals_cmd(history_dir: HistoryOpt = None) -> None:
    """Where every removal request stands: still listed, overdue, gone, back."""
    with _history(history_dir) as h:
        items = removals(h)
    if not items:
        out.print("No removal requests recorded: `exposure optout SITE` records one.")
        return
    _print_removals(items)


@app.command(cls=_Command)
def letter(
    site: Annotated[str, typer.Argument(help="The site's id, domain or name.")],
    law: Annotated[Law, typer.Option(help="ccpa (California), gdpr (EU, UK), or generic.")] = Law.GENERIC,
    scan_ref: Annotated[
        str | None,
        typer.Option("--scan", help="The scan whose listings to name (default: the newest that found you there)."),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the letter.")] = Path("reports"),
    history_dir: HistoryOpt = None,
) -> None:
    """Write a deletion request with the listing URLs and only the data the listings already show."""
    from .letter import letter as write_letter

    with _history(history_dir) as h:
        rows = [h.find(scan_ref)] if scan_ref else list(reversed(h.scans()))
        found = None
        for row in rows:
            if row.kind == "migrated":
                continue
            for s in h.finished_sites(row.id).values():
                if site.lower() in (s.site.id, s.site.domain.lower(), s.site.name.lower()) and s.status is Status.FOUND:
                    found = (row, s)
                    break
            if found:
                break
        if found is None:
            raise _fail(f"no scan found you on {site!r}: there is nothing to ask it to remove")
        row, s = found
        text = write_letter(s, law, scan_finished=row.finished_at or row.started_at)
        path = out_dir / f"letter-{s.site.id}-{law.value}-{date.today():%Y%m%d}.txt"
        write_private(path, text)
        h.record_output(path, "letter")
    out.print(text, highlight=False, markup=False, soft_wrap=True)
    out.print(f"Letter: {path.resolve()}", highlight=False, soft_wrap=True)
    if s.opt_out is not None:
        out.print(
            f"Send it through {s.site.name}'s removal page or contact: {s.opt_out.url}", highlight=False, soft_wrap=True
        )
    out.print("It repeats only what the listings show. Fill in the two \\[bracketed] lines before sending.")


@app.command(cls=_Command)
def forget(
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    profile: Annotated[Path | None, typer.Option("--profile", help="The profile to delete (default: yours).")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="The reports folder to clear of exposure's files.")] = Path(
        "reports"
    ),
    history_dir: HistoryOpt = None,
) -> None:
    """Delete your profile, history, evidence and reports, and list what was removed."""
    from .forget import forget as do_forget
    from .forget import plan

    hdir = history_dir or default_history_dir()
    ppath = profile or default_profile_path()
    try:
        targets = plan(ppath, hdir, out_dir)
    except ConfigError as exc:
        raise _fail(exc) from exc
    if not targets:
        out.print("Nothing to forget: no profile, history, evidence or reports found.")
        return
    out.print("This deletes, for good:")
    for t in targets:
        out.print(f"  {t}", highlight=False, soft_wrap=True)
    if not yes:
        if not sys.stdin.isatty():
            raise _fail("run with --yes to confirm when not in a terminal")
        if not typer.confirm("Delete all of this?", default=False):
            raise typer.Exit(EXIT_BAD_INPUT)
    removed = do_forget(ppath, hdir, out_dir)
    for p in removed:
        out.print(f"removed {p}", highlight=False, soft_wrap=True)
    out.print(f"Forgotten: {len(removed)} file(s) removed.")
