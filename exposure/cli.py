"""The `exposure` command: parse options, call the pipeline, print. Nothing else lives here.

Exit codes: 0 every site answered and none lists you, 1 you are listed somewhere, 2 bad input (profile,
rules, options), 3 not listed where checked but some sites could not be checked (or none could), 130 the
scan was interrupted (the reports for the sites already checked are still written).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from . import __version__
from .browser import BrowserSettings, CheckPage
from .errors import ConfigError
from .fetch import FetchSettings
from .files import describe_os_error, private_folder
from .findings import current_findings
from .history import History, default_history_dir
from .models import RemovalNote, ScanResult, SiteResult, Status
from .pipeline import ScanOptions, scan
from .profile import ProfileFile, default_profile_path, dump_profile, load_profile, write_private
from .progress import ScanProgress, Verbosity
from .recording import Mode, Recorder, changed_removals, removals
from .removal import Removal
from .report.interface import Format
from .report.write import write_fallback, write_reports
from .rules import BUNDLED_RULES, Catalog, load_catalog
from .sites import select
from .summary import EXIT_BAD_INPUT, EXIT_CLEAN, EXIT_INTERRUPTED, ScanOutcome, exit_code, headline, outcome


def _plain_flags(params: list[Any]) -> list[Any]:
    """Help without raw type names: Typer prints `<bool>` beside each flag (which takes no value) and the
    Python type beside each argument (`<str>`), where the argument's name already says what to give."""
    for p in params:
        if isinstance(p, TyperOption) and p.is_flag and p.metavar is None:
            p.metavar = ""
        elif isinstance(p, TyperOption) and p.metavar is None and p.name:
            p.metavar = p.name.upper()  # "--history-dir HISTORY_DIR", never "<path>"
        elif isinstance(p, TyperArgument):
            p.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
    return params


class _Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))


HELP = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(
    cls=_Group,
    help=(
        "Find where your name, phones, emails and addresses are published on people-search sites, "
        "and how to get each listing removed.\n\n"
        "Start with `exposure demo` (no internet needed), then `exposure init` and `exposure scan`.\n\n"
        "Exit codes: 0 every site answered and none lists you; 1 you are listed somewhere; 2 bad input; "
        "3 not listed where checked, but some sites could not be checked; "
        "130 interrupted (reports for the sites already checked are still written)."
    ),
    context_settings=HELP,
    pretty_exceptions_enable=False,
)
rules_app = typer.Typer(cls=_Group, help="Check and inspect rule files.", context_settings=HELP)
app.add_typer(rules_app, name="rules")
sites_app = typer.Typer(cls=_Group, help="Browse the catalog of sites.", no_args_is_help=True, context_settings=HELP)
app.add_typer(sites_app, name="sites")
console = Console(stderr=True)
out = Console()


def _version(value: bool) -> None:
    if value:
        out.print(f"exposure {__version__}", highlight=False)
        raise typer.Exit(EXIT_CLEAN)


@app.callback(invoke_without_command=True)
def _main(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    if ctx.invoked_subcommand is None:  # `exposure` alone: what it can do, and no error
        out.print(ctx.get_help(), highlight=False)
        raise typer.Exit(EXIT_CLEAN)


@rules_app.callback(invoke_without_command=True)
def _rules_main(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        out.print(ctx.get_help(), highlight=False)
        raise typer.Exit(EXIT_CLEAN)


ProfileOpt = Annotated[
    Path | None,
    typer.Option(
        "--profile", metavar="FILE", help="Profile TOML (default: your user config folder).", show_default=False
    ),
]
RulesOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--rules",
        metavar="DIR",
        help="Scan only the rules in this folder (repeatable) instead of the bundled catalog.",
        show_default=False,
    ),
]
OutOpt = Annotated[Path, typer.Option("--out", metavar="DIR", help="Folder for the reports (made 0700 if missing).")]
FormatOpt = Annotated[
    list[Format] | None,
    typer.Option(
        "--format",
        metavar="html|json|markdown|csv",
        help="Report format (repeatable). Default: html and json.",
        show_default=False,
    ),
]
ProgressOpt = Annotated[bool, typer.Option(help="Show progress while scanning.")]
QuietOpt = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="Print only errors, what changed since the last scan, and the report paths."),
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Also print every request of each site.")]
OpenOpt = Annotated[bool, typer.Option("--open", help="Open the HTML report in your default browser.")]


def _fail(exc: ConfigError | str) -> typer.Exit:
    # soft_wrap: one line however long the path, so it can be read, copied and grepped whole
    console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_BAD_INPUT)


def _load_rules(folders: Sequence[Path] | None) -> Catalog:
    catalog = load_catalog(list(folders) if folders else [BUNDLED_RULES])
    if not len(catalog):
        raise ConfigError(", ".join(str(f) for f in (folders or [BUNDLED_RULES])), "", "no rule files (*.toml) found")
    return catalog


def _run(coro_factory: object) -> ScanResult:
    """Run a scan; the first Ctrl-C stops it and keeps what is known, a second exits at once.

    Our handler is installed before asyncio.run (which then leaves SIGINT alone) and stays for the whole
    run, so a second Ctrl-C exits at once even while the reports of an interrupted scan are written.
    """
    presses = 0
    running: dict[str, object] = {}

    def on_sigint(signum: int, frame: object) -> None:
        nonlocal presses
        presses += 1
        loop, stop = running.get("loop"), running.get("stop")
        if presses == 1 and isinstance(loop, asyncio.AbstractEventLoop) and isinstance(stop, asyncio.Event):
            os.write(
                2,
                b"\nStopping: writing the report for the sites already checked (press Ctrl-C again to quit at once)\n",
            )
            try:
                loop.call_soon_threadsafe(stop.set)
                return
            except RuntimeError:  # the loop has just finished
                pass
        os._exit(EXIT_INTERRUPTED)

    async def main() -> ScanResult:
        running["loop"] = asyncio.get_running_loop()
        running["stop"] = stop = asyncio.Event()
        assert callable(coro_factory)
        result: ScanResult = await coro_factory(stop)
        return result

    import threading

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        result = asyncio.run(main())
    finally:
        running.clear()
    if previous is not None and not result.interrupted:
        signal.signal(signal.SIGINT, previous)
    return result


def _status_cell(s: SiteResult) -> str:
    if s.status is Status.FOUND:
        return f"[bold red]LISTED[/] ({len(s.user_listings)})"
    if s.status is Status.NOT_FOUND:
        return "[green]not listed[/]"
    return f"[yellow]could not check[/] ({s.reason.value if s.reason else '?'})"


def _summary(result: ScanResult) -> None:
    table = Table(title="exposure scan", show_lines=False)
    table.add_column("site")
    table.add_column("result")
    table.add_column("why / what", overflow="fold")
    order = {Status.FOUND: 0, Status.COULD_NOT_CHECK: 1, Status.NOT_FOUND: 2}
    for s in sorted(result.sites, key=lambda s: (order[s.status], s.site.name)):
        if s.status is Status.FOUND:
            kinds = sorted({e.kind.value for v in s.user_listings for e in v.exposed if e.matches_profile})
            why = "shows your " + ", ".join(kinds) if kinds else ""
        elif s.status is Status.COULD_NOT_CHECK:
            why = s.detail
        else:
            why = f"{len(s.namesakes)} namesake(s) only" if s.namesakes else ""
        table.add_row(s.site.name, _status_cell(s), why)
    out.print(table)
    style = {ScanOutcome.LISTED: "bold red", ScanOutcome.NOT_LISTED: "green"}.get(outcome(result), "bold")
    out.print(f"[{style}]{headline(result)}[/]", highlight=False)
    unconfirmed = sum(len(s.unconfirmed) for s in result.sites)
    if unconfirmed:
        out.print(f"{unconfirmed} listing(s) with your name to check yourself: see the report.", highlight=False)
    if result.by_hand:
        out.print(f"{len(result.by_hand)} site(s) can only be checked by hand: see the report.", highlight=False)
    c = result.changes
    if c is not None:
        out.print(
            f"Since the scan of {c.previous_finished_at}: {len(c.new)} new listing(s), {len(c.gone)} gone "
            f"(an opt-out may have worked), {len(c.still_listed)} still listed, {len(c.unknown)} not checkable now.",
            highlight=False,
        )
    if result.interrupted:
        out.print("[yellow]The scan was interrupted: unfinished sites are marked 'could not check'.[/]")
    sent, cap, seconds = (result.extra.get(k) for k in ("requests", "max_requests_per_site", "seconds"))
    if sent is not None:
        limit = f"; at most {cap} to any one site" if cap else ""
        took = f" in {seconds} s" if seconds else ""
        out.print(f"{sent} request(s) sent{took}{limit}.", highlight=False)


def _print_paths(paths: Sequence[Path], verbosity: Verbosity) -> None:
    for p in paths:
        if verbosity is Verbosity.QUIET:
            out.print(str(p), highlight=False, soft_wrap=True)
            continue
        out.print(f"Report: {p}", highlight=False, soft_wrap=True)
        if p.suffix == ".html":
            out.print(f"  open it in a browser: {p.as_uri()}", highlight=False, soft_wrap=True)


def _open_in_browser(paths: Sequence[Path]) -> None:
    import webbrowser

    html = [p for p in paths if p.suffix == ".html"]
    if not html:
        console.print("[yellow]warning:[/] --open needs the html format: nothing to open", highlight=False)
    elif not webbrowser.open(html[0].as_uri()):
        console.print(f"[yellow]warning:[/] no browser could be started; open {html[0].as_uri()}", highlight=False)


def _verbosity(quiet: bool, verbose: bool) -> Verbosity:
    if quiet and verbose:
        raise _fail("--quiet and --verbose cannot go together")
    return Verbosity.QUIET if quiet else Verbosity.VERBOSE if verbose else Verbosity.NORMAL


def _output_failure(what: str, path: Path | str, exc: OSError) -> str:
    where = exc.filename or path
    return f"cannot write {what} {where}: {describe_os_error(exc)}"


def _scan_and_report(
    history_dir: Path | None,
    profile_path: Path,
    rule_dirs: Sequence[Path] | None,
    out_dir: Path,
    formats: Sequence[Format] | None,
    options: ScanOptions,
    progress: bool,
    verbosity: Verbosity = Verbosity.NORMAL,
    open_report: bool = False,
    mode: Mode = Mode.NEW,
    evidence: bool = True,
    only: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> int:
    """Scan, then write the reports, then close the scan in the history. Each finished site is saved in the
    history as it finishes (a killed scan keeps it); the scan itself is closed after the reports, so a history
    that cannot be saved never costs the reports, and reports that cannot be written still leave the scan's JSON
    behind."""
    import sqlite3

    try:
        profile = load_profile(profile_path)
        catalog = select(_load_rules(rule_dirs), only, exclude)
    except ConfigError as exc:
        raise _fail(exc) from exc
    if history_dir is None and mode is not Mode.NEW:
        raise _fail(f"--{mode.value} needs the history (leave out --no-history)")
    fmts = list(dict.fromkeys(formats)) if formats else [Format.HTML, Format.JSON]
    out_dir = out_dir.absolute()
    try:  # before the scan: a folder that cannot be made is said now, not after minutes of scanning
        _created, warning = private_folder(out_dir)
    except OSError as exc:
        raise _fail(_output_failure("the reports to", out_dir, exc)) from exc
    quiet = verbosity is Verbosity.QUIET
    if warning and not quiet:
        console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    try:
        history = History.open(history_dir) if history_dir is not None else None
    except ConfigError as exc:
        raise _fail(exc) from exc
    except (OSError, sqlite3.Error) as exc:
        cause = describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
        raise _fail(
            f"cannot open the scan history in {history_dir}: {cause} (choose another --history-dir, or "
            "scan with --no-history)"
        ) from exc

    recorder = None
    rules = list(catalog.rules)
    if history is not None:
        recorder = Recorder(history, evidence, lambda m: console.print(f"[yellow]warning:[/] {m}", highlight=False))
        try:
            plan = recorder.make_plan(rules, mode, profile_path, profile.name.original)
        except ConfigError as exc:
            raise _fail(exc) from exc
        rules = plan.rules
        if mode is Mode.RECHECK and not rules:
            out.print("Every site was checked in the last scan: nothing to recheck.")
            raise typer.Exit(EXIT_CLEAN)
        if mode is not Mode.NEW and not quiet:
            done = len(plan.previous)
            out.print(
                f"{'Resuming' if mode is Mode.RESUME else 'Rechecking'} scan {plan.scan_id}: {len(rules)} site(s) "
                f"to scan" + (f", {done} finished before" if done else "") + ".",
                highlight=False,
            )

    names = [r.name or r.id for r in rules]
    shown_mode = progress and not quiet
    with ScanProgress(console, names, verbosity if shown_mode else Verbosity.QUIET) as shown:
        warned: list[bool] = []

        def on_site(s: SiteResult) -> None:
            if recorder is not None:
                recorder.on_site(s)
            shown.site_done(s)
            if s.detail.startswith("no network") and not warned:
                warned.append(True)
                console.print("[bold]no network: nothing can be checked[/] (stopping the scan)", highlight=False)

        by_hand = [m.by_hand() for m in catalog.manual]
        result = _run(
            lambda stop: scan(
                profile,
                rules,
                options,
                on_site=on_site,
                on_pages=recorder.on_pages if recorder is not None else None,
                stop=stop,
                by_hand=by_hand,
                scan_id=recorder.plan.scan_id if recorder is not None and recorder.plan is not None else None,
                on_challenge=_tell_person if options.browser.interactive else None,
            )
        )

    problems: list[str] = []
    if recorder is not None and history is not None:
        try:
            result = recorder.complete(result)
            result = replace(result, removals=tuple(r.note() for r in removals(history)))
        except (OSError, sqlite3.Error) as exc:
            cause = describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
            console.print(
                f"[yellow]warning:[/] cannot read the scan history in {history_dir}: {cause}; "
                "this report says nothing about what changed",
                highlight=False,
            )
    try:
        paths = write_reports(result, fmts, out_dir)
    except OSError as exc:
        paths = []
        problem = _output_failure("the report", out_dir, exc)
        try:
            saved = write_fallback(result, avoid=out_dir)
        except OSError as again:
            problem += f"; the scan's results could not be saved anywhere else either ({describe_os_error(again)})"
        else:
            problem += f"; the scan's results were saved to {saved}"
        problems.append(problem)
    if recorder is not None and history is not None:
        try:
            recorder.finish(result, paths)
            if not result.interrupted:
                shots = recorder.screenshots()
                if shots.failed and not quiet:
                    console.print(
                        f"[yellow]{len(shots.failed)} screenshot(s) not taken:[/] {shots.failed[0]}", highlight=False
                    )
        except (OSError, sqlite3.Error) as exc:
            cause = describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
            problems.append(
                f"cannot save this scan in the history folder {history_dir}: {cause} "
                "(the reports are written; choose another --history-dir, or scan with --no-history)"
            )

    if quiet:
        # only what changed (for cron: no mail when nothing did), and then where the reports are
        if _changes_only(result, history):
            _print_paths(paths, verbosity)
    else:
        _summary(result)
        _print_notes(result.removals)
        _print_paths(paths, verbosity)
    if open_report and paths:
        _open_in_browser(paths)
    if history is not None:
        history.close()
    for problem in problems:
        console.print(f"[bold red]error:[/] {escape(problem)}", highlight=False, soft_wrap=True)
    if problems:
        return EXIT_INTERRUPTED if result.interrupted else EXIT_BAD_INPUT
    return exit_code(result)


def _print_removals(items: Sequence[Removal], title: str = "Removal requests") -> None:
    _print_notes(tuple(r.note() for r in items), title)


def _print_notes(notes: Sequence[RemovalNote], title: str = "Removal requests") -> None:
    if not notes:
        return
    out.print(f"[bold]{title}:[/]")
    style = {"overdue": "bold red", "back": "bold red", "gone": "green", "still_listed": "yellow"}
    for r in notes:
        via = f" (covered by the request to {r.requested_from})" if r.requested_from != r.site_name else ""
        ref = f" \\[request {escape(r.request_id)}]" if r.request_id and not via else ""
        line = f"  {escape(r.site_name)}{escape(via)}: [{style.get(r.state, 'bold')}]{escape(r.text)}[/]{ref}"
        out.print(line, highlight=False, soft_wrap=True)


def _changes_only(result: ScanResult, history: History | None) -> bool:
    """What `--quiet` prints: only what changed since the last scan (every listing on a first scan); nothing at
    all when nothing did. Says whether it printed anything."""
    lines: list[str] = []
    c = result.changes
    if c is not None:
        now = current_findings(result)
        for fid in c.new:
            s, v = now[fid]
            lines.append(f"new listing on {s.site.name}: {v.listing.url}")
        for fid in c.gone:
            g = c.gone_details[fid]
            lines.append(f"gone from {g.site_name}: {g.url}")
    else:
        lines += [f"listed on {s.site.name}: {v.listing.url}" for s in result.sites for v in s.user_listings]
    if result.interrupted:
        lines.append("The scan was interrupted: run `exposure scan --resume` to finish it.")
    for line in lines:
        out.print(line, highlight=False, soft_wrap=True)
    changed = changed_removals(history, result.id) if history is not None else ()
    _print_removals(changed, "Removal requests that changed")
    return bool(lines or changed)


def _tell_person(notice: CheckPage) -> None:
    """`--interactive`: what the person should do with the window that just opened."""
    console.print(
        f"\n[bold]{notice.site}[/] shows a check page ({notice.protection}). It is open in a browser window: "
        "complete it there (tick the box, solve the puzzle), then come back here. The scan goes on by itself as "
        f"soon as the site lets you through, or after {notice.wait:g} s.",
        highlight=False,
    )


def _browser_settings(interactive: bool, wait: float, keep_cookies: bool) -> BrowserSettings:
    from .browser.engine import default_state_dir

    return BrowserSettings(interactive=interactive, wait=wait, state_dir=default_state_dir() if keep_cookies else None)


InteractiveOpt = Annotated[
    bool,
    typer.Option(
        "--interactive",
        help="When a site read with the browser engine shows a check page (a challenge), open it in a window "
        "for you to complete, then go on. Without it such a site is 'could not check' (blocked).",
    ),
]
WaitOpt = Annotated[float, typer.Option("--interactive-wait", min=5, help="Seconds you have for one check page.")]


@app.command("scan", cls=_Command)
def scan_cmd(
    profile: ProfileOpt = None,
    rules: RulesOpt = None,
    out_dir: OutOpt = Path("reports"),
    fmt: FormatOpt = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=256,
            metavar="N",
            help="Requests in flight across all sites (default: an eighth of the sites scanned, 32 to 128).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=1, metavar="SECONDS", help="Total seconds for one request, body included.")
    ] = 20.0,
    site_deadline: Annotated[
        float, typer.Option(min=1, metavar="SECONDS", help="Seconds one site may take in all.")
    ] = 300.0,
    max_requests: Annotated[
        int,
        typer.Option(min=1, max=10_000, metavar="N", help="At most this many requests to any one site in one scan."),
    ] = FetchSettings.max_requests_per_site,
    progress: ProgressOpt = True,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    open_report: OpenOpt = False,
    history: Annotated[bool, typer.Option(help="Remember this scan and compare it with the last one.")] = True,
    history_dir: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Where scans and evidence are kept (default: your user data folder).",
            show_default=False,
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Finish the last scan, which was interrupted: only its unfinished sites.")
    ] = False,
    recheck: Annotated[
        bool, typer.Option("--recheck", help="Scan again only the sites the last scan could not check.")
    ] = False,
    evidence: Annotated[
        bool, typer.Option(help="Keep each page that lists you, with a screenshot, as evidence (needs the history).")
    ] = True,
    site: Annotated[
        list[str] | None,
        typer.Option(
            "--site", metavar="ID", help="Scan only this site of the catalog (repeatable).", show_default=False
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", metavar="ID", help="Leave this site out (repeatable).", show_default=False),
    ] = None,
    interactive: InteractiveOpt = False,
    interactive_wait: WaitOpt = 180.0,
    keep_browser_cookies: Annotated[
        bool,
        typer.Option(
            "--keep-browser-cookies",
            help="Keep the cookies browser-engine sites set (each site's own only) for the next scan, so a check "
            "page you completed need not be done again. Off: every scan starts with no cookies.",
        ),
    ] = False,
) -> None:
    """Search every configured site for you and write the reports."""
    if resume and recheck:
        raise _fail("--resume and --recheck cannot be used together")
    verbosity = _verbosity(quiet, verbose)
    settings = FetchSettings(timeout=timeout, concurrency=concurrency or 0, max_requests_per_site=max_requests)
    options = ScanOptions(
        fetch=settings,
        site_deadline=site_deadline,
        browser=_browser_settings(interactive, interactive_wait, keep_browser_cookies),
    )
    hdir = (history_dir or default_history_dir()) if history else None
    mode = Mode.RESUME if resume else Mode.RECHECK if recheck else Mode.NEW
    code = _scan_and_report(
        hdir,
        profile or default_profile_path(),
        rules,
        out_dir,
        fmt,
        options,
        progress,
        verbosity,
        open_report,
        mode,
        evidence,
        only=site or (),
        exclude=exclude or (),
    )
    raise typer.Exit(code)


def _serve_until_interrupted() -> None:
    import time

    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("\nDemo sites stopped.", highlight=False)


@app.command(cls=_Command)
def demo(
    out_dir: OutOpt = Path("reports"),
    fmt: FormatOpt = None,
    progress: ProgressOpt = True,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    open_report: OpenOpt = False,
    serve: Annotated[
        bool | None,
        typer.Option(
            "--serve/--no-serve",
            help="Keep the demo sites up after the scan, until Ctrl-C, so the report's links work "
            "(default: when run in a terminal).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Scan the bundled demo sites (served here on 127.0.0.1) for the demo person; no internet needed."""
    import tempfile

    from .demo.server import DEMO_PROFILE, DemoWebThread, render_rules

    verbosity = _verbosity(quiet, verbose)
    keep = serve if serve is not None else (sys.stdin.isatty() and sys.stdout.isatty())
    with DemoWebThread() as web, tempfile.TemporaryDirectory(prefix="exposure-demo-") as tmp:
        rules_dir = render_rules(Path(tmp) / "rules", web.bases)
        if verbosity is not Verbosity.QUIET:
            console.print(f"Demo web: {len(web.bases)} synthetic people-search sites on 127.0.0.1", highlight=False)
        options = ScanOptions(fetch=FetchSettings(timeout=10, retries=1, backoff=0.2), delay_scale=0.1)
        # the demo person's scans are not mixed into the user's own history
        code = _scan_and_report(
            None, DEMO_PROFILE, [rules_dir], out_dir, fmt, options, progress, verbosity, open_report
        )
        if keep and code not in (EXIT_INTERRUPTED, EXIT_BAD_INPUT):
            out.print(
                "The demo sites stay up so the report's listing and opt-out links work: press Ctrl-C to stop them.",
                highlight=False,
                soft_wrap=True,
            )
            _serve_until_interrupted()
        elif code not in (EXIT_INTERRUPTED, EXIT_BAD_INPUT) and verbosity is not Verbosity.QUIET:
            out.print(
                "The demo sites are stopped now, so the report's links to them lead nowhere; "
                "run `exposure demo --serve` to keep them up.",
                highlight=False,
            )
    # the demo person is listed by design; the demo itself succeeded
    raise typer.Exit(code if code in (EXIT_INTERRUPTED, EXIT_BAD_INPUT) else EXIT_CLEAN)


@app.command(cls=_Command)
def check(
    url: Annotated[str, typer.Argument(help="The page's address: a search result you found, a forum post, ...")],
    profile: ProfileOpt = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            help="Another host the page may load from (repeatable). Every other host outside the page's own site "
            "is blocked.",
        ),
    ] = None,
    interactive: InteractiveOpt = False,
    interactive_wait: WaitOpt = 180.0,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds the page may take to load.")] = 30.0,
    save: Annotated[bool, typer.Option(help="Keep the page as read, with its URL, UTC time and SHA-256.")] = True,
    evidence_dir: Annotated[
        Path | None, typer.Option(help="Where the page is kept (default: your user data folder).")
    ] = None,
) -> None:
    """Open one page in the browser engine and say which of your identifiers it shows (exit 1 if any, 0 if none,
    3 if the page could not be read)."""
    from .capture import default_capture_dir
    from .domains import site_of, url_problem
    from .pipeline import check_page
    from .rules import check_asset_host
    from .summary import EXIT_LISTED, EXIT_UNCHECKED

    site = site_of(url) if "://" in url else ""
    problem = url_problem(url, site) if site else "not an absolute http(s) URL"
    if problem:
        raise _fail(f"{url}: {problem}")
    try:
        hosts = [check_asset_host(h) for h in allow_host or []]
        person = load_profile(profile or default_profile_path())
    except ValueError as exc:
        raise _fail(f"--allow-host: {exc}") from exc
    except ConfigError as exc:
        raise _fail(exc) from exc
    done = asyncio.run(
        check_page(
            url,
            person,
            fetch=FetchSettings(timeout=timeout, retries=0),
            browser=_browser_settings(interactive, interactive_wait, False),
            allow_hosts=hosts,
            save_to=(evidence_dir or default_capture_dir()) if save else None,
            on_challenge=_tell_person if interactive else None,
        )
    )
    reading = done.reading
    out.print(url, highlight=False)
    if done.page.refused:
        out.print(
            f"The page tried to reach {len(done.page.refused)} other host(s); all were blocked: "
            f"{', '.join(done.page.refused[:5])} (--allow-host lets one through).",
            highlight=False,
        )
    code = EXIT_CLEAN
    if reading.verdict is None:
        out.print(f"[yellow]Could not check this page[/] ({reading.outcome or 'error'}): {reading.detail}")
        code = EXIT_UNCHECKED
    elif reading.exposes:
        table = Table(title="What this page shows of you", show_lines=False)
        table.add_column("your")
        table.add_column("as shown", overflow="fold")
        table.add_column("on the page", overflow="fold")
        for e in reading.exposures:
            table.add_row(e.kind.value, e.value, e.evidence)
        out.print(table)
        v = reading.verdict
        if v.is_user:
            out.print(f"[bold red]This page is about you[/] ({'; '.join(v.reasons)}).", highlight=False)
        elif v.identifier_exposed:
            out.print("[bold red]This page shows your data[/] (under a name that is not yours).", highlight=False)
        else:
            out.print("It shows your name, and nothing else of yours: it may be about someone else with your name.")
        code = EXIT_LISTED
    else:
        out.print("[green]Nothing of yours was found on this page[/] (as far as its text shows).")
    if reading.cut:
        out.print("[yellow]The page is very long: only its start was read.[/]")
    if done.capture is not None and done.saved is not None:
        c = done.capture
        out.print(
            f"Kept: {done.saved} (captured {c.captured_at}, SHA-256 {c.sha256}); its record is "
            f"{done.saved.with_suffix('.json').name}.",
            highlight=False,
        )
    raise typer.Exit(code)


def _problem(**fields: object) -> str:
    """What the profile's own checks say about one answer, or "" when it is fine."""
    from pydantic import ValidationError

    try:
        ProfileFile.model_validate({"name": "Someone Else", **fields})
    except ValidationError as exc:
        return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
    return ""


def _ask(label: str, check: Any, default: str | None = None) -> str:
    """Ask until the answer passes `check` (which returns the problem, or "")."""
    while True:
        answer: str = (
            typer.prompt(label, default=default, show_default=False) if default is not None else (typer.prompt(label))
        )
        problem = check(answer)
        if not problem:
            return answer
        console.print(f"[yellow]{problem}[/]: try again", highlight=False)


def _ask_many(label: str, field: str) -> list[str]:
    def check(raw: str) -> str:
        return _problem(**{field: _split(raw)})

    return _split(_ask(f"{label} (separate several with ';', or leave empty)", check, default=""))


def _split(raw: str) -> list[str]:
    return [x.strip() for x in raw.split(";") if x.strip()]


def _birth_year(raw: str) -> str:
    if not raw.strip():
        return ""
    if not raw.strip().isdigit():
        return f"{raw.strip()!r} is not a year (write it like 1979)"
    return _problem(birth_year=int(raw))


@app.command(cls=_Command)
def init(
    profile: ProfileOpt = None,
    name: Annotated[str | None, typer.Option(metavar="TEXT", help="Your full name.")] = None,
    alias: Annotated[
        list[str] | None, typer.Option(metavar="TEXT", help="Another name you use or used (repeatable).")
    ] = None,
    birth_year: Annotated[int | None, typer.Option(metavar="YEAR", help="Year of birth.")] = None,
    phone: Annotated[list[str] | None, typer.Option(metavar="NUMBER", help="A phone number (repeatable).")] = None,
    email: Annotated[list[str] | None, typer.Option(metavar="ADDRESS", help="An email address (repeatable).")] = None,
    address: Annotated[
        list[str] | None,
        typer.Option(metavar="TEXT", help='An address, current first: "412 N Walnut St Apt 3, Springfield, IL 62702".'),
    ] = None,
    relative: Annotated[
        list[str] | None, typer.Option(metavar="TEXT", help="A relative's full name (repeatable).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing profile.")] = False,
) -> None:
    """Write your profile (asks for what the options do not give). It stays on this machine, readable only by you."""
    path = (profile or default_profile_path()).absolute()
    if path.exists() and not force:
        raise _fail(f"{path}: a profile exists already (use --force to replace it)")
    interactive = name is None
    if interactive:
        if not sys.stdin.isatty():
            raise _fail("--name is required when not run interactively")
        out.print(f"Your profile will be written to {path}, readable only by you.", highlight=False)
        try:
            name = _ask("Full name", lambda raw: _problem(name=raw))
            alias = _ask_many("Other names (nicknames, maiden name)", "aliases")
            by = _ask("Birth year (or leave empty)", _birth_year, default="")
            birth_year = int(by) if by.strip() else None
            phone = _ask_many("Phone numbers", "phones")
            email = _ask_many("Email addresses", "emails")
            address = _ask_many("Addresses, current first", "addresses")
            relative = _ask_many("Relatives' names", "relatives")
        except (typer.Abort, KeyboardInterrupt, EOFError):
            console.print("\nStopped: nothing was written.", highlight=False)
            raise typer.Exit(EXIT_INTERRUPTED) from None
    from pydantic import ValidationError

    try:
        data = ProfileFile(
            name=name or "",
            aliases=alias or [],
            birth_year=birth_year,
            phones=phone or [],
            emails=email or [],
            addresses=address or [],
            relatives=relative or [],
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise _fail(f"{field}: {err['msg'].removeprefix('Value error, ')}") from exc
    try:
        _created, warning = private_folder(path.parent)
        write_private(path, dump_profile(data))
    except OSError as exc:
        raise _fail(_output_failure("the profile", path, exc)) from exc
    if warning:
        console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    out.print(f"Profile written to {path} (readable only by you).", highlight=False, soft_wrap=True)
    scan_cmd_line = "exposure scan" if path == default_profile_path().absolute() else f"exposure scan --profile {path}"
    out.print(
        f"Next: run `{scan_cmd_line}` (or `exposure demo` first, to see what a report looks like).",
        highlight=False,
        soft_wrap=True,
    )


def _listing_url_problem(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises on a malformed port
    except ValueError:
        return f"{url!r} is not a web address"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not a listing's web address (it must start with http:// or https://)"
    return ""


@app.command(cls=_Command)
def ignore(
    url: Annotated[
        str | None, typer.Argument(metavar="URL", help="The listing's URL, as shown in the report.", show_default=False)
    ] = None,
    profile: ProfileOpt = None,
    list_: Annotated[bool, typer.Option("--list", help="List the listings marked as not you.")] = False,
    remove: Annotated[
        str | None,
        typer.Option(metavar="URL", help="Unmark a listing: later scans count it again.", show_default=False),
    ] = None,
) -> None:
    """Mark a listing as not you: later scans leave it out of your exposures.

    Your profile is edited in place: its comments, order and other keys stay as you wrote them.
    """
    from .profile_edit import ProfileEditError, list_not_me, set_not_me

    path = profile or default_profile_path()
    chosen = [x for x in (url is not None, list_, remove is not None) if x]
    if len(chosen) != 1:
        raise _fail("give one of: a listing URL, --list, or --remove URL")
    try:
        if list_:
            urls = list_not_me(path)
            for u in urls:
                out.print(u, highlight=False, soft_wrap=True)
            if not urls:
                console.print("No listing is marked as not you.", highlight=False)
            return
        target = url if url is not None else remove
        assert target is not None
        problem = _listing_url_problem(target.strip())
        if problem:
            raise _fail(problem)
        changed = set_not_me(path, target.strip(), present=url is not None)
    except ConfigError as exc:
        raise _fail(exc) from exc
    except ProfileEditError as exc:
        raise _fail(f"{path}: {exc}") from exc
    except OSError as exc:
        raise _fail(_output_failure("the profile", path, exc)) from exc
    if url is not None:
        out.print(f"Marked as not you: {url}" if changed else f"Already marked as not you: {url}", highlight=False)
    else:
        if not changed:
            raise _fail(f"{remove} is not marked as not you (see `exposure ignore --list`)")
        out.print(f"No longer marked as not you: {remove}", highlight=False)


@rules_app.command("check", cls=_Command)
def rules_check(rules: RulesOpt = None) -> None:
    """Validate rule files and list them."""
    try:
        loaded = _load_rules(rules)
    except ConfigError as exc:
        raise _fail(exc) from exc
    for r in loaded.rules:
        kinds = ", ".join(sorted({s.kind.value for s in r.searches}))
        out.print(f"{r.id:30} {r.domain:32} searches by {kinds}", highlight=False)
    for m in loaded.manual:
        out.print(f"{m.id:30} {m.domain:32} check by hand", highlight=False)
    silent = [r.id for r in loaded.rules if not r.extract.expect]
    if silent:
        console.print(
            f"[yellow]warning:[/] {len(silent)} rule(s) declare no `expect` fields, so a change of the site's page "
            f"cannot be noticed: {', '.join(silent)}",
            highlight=False,
        )
    out.print(f"{len(loaded.rules)} rule(s) valid, {len(loaded.manual)} site(s) to check by hand.")


@rules_app.command("probe", cls=_Command)
def rules_probe(
    ids: Annotated[list[str], typer.Argument(help="Rule ids to probe.", show_default=False)],
    rules: RulesOpt = None,
) -> None:
    """Ask each site, live, whether the rule's markers still hold (opt-in: this sends two searches of invented
    people to each real site, nothing of yours)."""
    from .probe import probe
    from .sites import find

    try:
        catalog = _load_rules(rules)
        chosen = [find(catalog, i) for i in ids]
    except ConfigError as exc:
        raise _fail(exc) from exc
    table = Table(title="rules probe")
    for column in ("rule", "no-results answer", "results page", "invented name", "common name"):
        table.add_column(column, overflow="fold")
    failed = 0
    for entry in chosen:
        if not hasattr(entry, "searches"):
            table.add_row(entry.id, "-", "-", "a by-hand entry: nothing to probe", "")
            continue
        result = asyncio.run(probe(entry))  # type: ignore[arg-type]
        failed += not result.holds
        mark = {True: "[green]holds[/]", False: "[red]does not hold[/]"}
        table.add_row(
            entry.id, mark[result.no_results_holds], mark[result.results_hold], result.invented, result.common
        )
    out.print(table)
    raise typer.Exit(1 if failed else 0)


@rules_app.command("schema", cls=_Command)
def rules_schema() -> None:
    """Print the JSON Schema of a rule file."""
    import json

    from .rules import schema

    out.print_json(json.dumps(schema()))


@sites_app.command("list", cls=_Command)
def sites_list(
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Only sites with this tag (repeatable).")] = None,
    family: Annotated[
        list[str] | None, typer.Option("--family", help="Only sites of this family, e.g. peoplefinders (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    rules: RulesOpt = None,
) -> None:
    """List the catalog: every site, how it is checked, its family, registry status and opt-out."""
    import json

    from .sites import rows

    try:
        found = rows(_load_rules(rules), tags=tag or (), families=family or ())
    except ConfigError as exc:
        raise _fail(exc) from exc
    if as_json:
        out.print_json(json.dumps([r.as_dict() for r in found]))
        return
    registry = {True: "yes", False: "no", None: "?"}
    out.print(f"{'id':28} {'domain':30} {'check':8} {'family':16} {'CA':3} opt-out", highlight=False, soft_wrap=True)
    for r in found:
        opt = r.opt_out_url + (f" ({r.opt_out_days} d)" if r.opt_out_days is not None else "")
        line = f"{r.id:28} {r.domain:30} {r.check:8} {r.family or '-':16} {registry[r.california_registry]:3} {opt}"
        out.print(line, highlight=False, soft_wrap=True)
    out.print(f"{len(found)} site(s).", highlight=False)


@sites_app.command("show", cls=_Command)
def sites_show(
    site_id: Annotated[str, typer.Argument(help="The site's id, as `sites list` shows it.", show_default=False)],
    rules: RulesOpt = None,
) -> None:
    """Show one site: how it is searched, its sources, and how to get removed from it."""
    from .sites import find, row

    try:
        entry = find(_load_rules(rules), site_id)
    except ConfigError as exc:
        raise _fail(exc) from exc
    r = row(entry)
    out.print(f"[bold]{entry.name}[/] ({entry.domain}), id {entry.id}", highlight=False)
    if entry.parent:
        out.print(f"Owned by: {entry.parent}", highlight=False)
    if r.family:
        out.print(f"Family: {r.family}", highlight=False)
    ca = {True: "yes", False: "no", None: "not known"}[r.california_registry]
    out.print(f"In California's data broker registry: {ca}", highlight=False)
    if r.check == "scan":
        out.print(f"Checked automatically, searching by {', '.join(r.searches)}.", highlight=False)
    else:
        out.print(f"Check by hand: {r.why_by_hand}", highlight=False)
    if entry.manual_url:
        out.print(f"Search by hand: {entry.manual_url}", highlight=False)
    o = entry.opt_out
    if o is not None:
        out.print(
            f"Opt-out: {o.url} ({o.method}{f', about {o.days} days' if o.days is not None else ''})", highlight=False
        )
        if o.requires:
            out.print("It asks for: " + "; ".join(o.requires), highlight=False)
        if o.covers:
            out.print("It also removes you from: " + ", ".join(o.covers), highlight=False)
        for line in o.steps.strip().splitlines():
            out.print(f"  {line.strip()}", highlight=False)
    out.print(f"Facts checked {entry.source.checked or 'on an unknown date'}; sources:", highlight=False)
    for url in entry.source.urls:
        out.print(f"  {url}", highlight=False)
    if entry.source.notes.strip():
        out.print("Notes: " + " ".join(entry.source.notes.split()), highlight=False)


@app.command(cls=_Command)
def version() -> None:
    """Print the version (the same as `exposure --version`)."""
    out.print(__version__)


from . import cli_records  # noqa: E402,F401  (registers history, diff, evidence, optout, letter, forget)

if __name__ == "__main__":
    app()
