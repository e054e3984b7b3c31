"""Evidence of every listing of the user: the page as fetched, a screenshot of it, and one zip to hand over.

Advice to people being harassed is to document everything before reporting, and what makes such material
usable by police and lawyers is agreed: the page kept with its URL and a UTC time, its content hashed, a log
of every capture, and a picture that shows the address. So:
- `keep_pages` writes each page behind a listing of the user exactly as received (the body after the
  transfer's content-encoding was undone: the bytes the site sent as the page), 0600 in a 0700 folder, named
  by its SHA-256; the history database logs its URL, final URL, fetch time (UTC), HTTP status and hash.
- `take_screenshots` renders each saved page in headless Chromium with scripts off and no network: every
  request the page makes is aborted, and the saved bytes are served as the page at its own URL, so relative
  links resolve as on the site but nothing is fetched. The picture carries a banner with the URL, the fetch
  and capture times and the hash, so it stands on its own when printed.
- `export` writes one zip: pages, screenshots, a WARC (`captures.warc.gz`, written with warcio, Webrecorder's
  library) holding each page as a `response` record and its screenshot as a `conversion` record, the reports,
  and `manifest.csv` with one row per file (time, URL, method, SHA-256, file, tool version). A WACZ is not
  written: the `wacz` package pulls in frictionless and a dozen more dependencies for a package index and a
  datapackage.json; `wacz create captures.warc.gz` turns the WARC into one when needed.
- `verify` re-reads a zip and re-checks every hash in its manifest, naming each file that changed, is missing
  or is not in the manifest. A zip is hostile input like any other: members are read with size caps and
  never extracted.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import json
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

from . import __version__
from .bodies import decode_page
from .chromium import LAUNCH_ARGS, default_chromium
from .errors import EvidenceError
from .models import SitePages
from .profile import write_private

EVIDENCE_DIR = "evidence"
SHOT_WIDTH = 1280
SHOT_MAX_HEIGHT = 8000  # a results page can be very long; the picture shows its top, the page file has it all
MANIFEST = "manifest.csv"
MANIFEST_FIELDS = ("time", "url", "method", "sha256", "file", "tool_version")
MAX_MEMBER = 64 * 1024 * 1024  # bytes read from one zip member when verifying
MAX_MEMBERS = 10_000
MAX_TOTAL = 2 * 1024 * 1024 * 1024  # bytes read from all members together

FETCH_METHOD = "HTTP GET by exposure; the body as received after its content-encoding was undone, kept byte for byte"
SHOT_METHOD = (
    "screenshot of the saved page rendered offline in headless Chromium (scripts off, every request aborted), "
    "with URL and times printed on it"
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _suffix(content_type: str) -> str:
    if "json" in content_type:
        return ".json"
    if "html" in content_type or "xml" in content_type or not content_type:
        return ".html"
    return ".bin"


def private_dirs(root: Path, *parts: str) -> Path:
    """`root/parts...`, making each missing folder 0700 one by one (`mkdir(parents=True)` would give the
    intermediate ones the umask's mode); folders that exist are left as they are."""
    path = root
    for part in parts:
        path = path / part
        if not path.is_dir():
            path.mkdir(mode=0o700)
    return path


def keep_pages(folder: Path, scan_id: str, pages: SitePages) -> list[dict[str, Any]]:
    """Write a site's listing pages under `folder/evidence/<scan>/<site>/` and return their log rows (the
    history records them in the same transaction as the site's result)."""
    rows = []
    for kept in pages.pages:
        page = decode_page(kept)  # the scan may hold bodies as they came off the wire (still gzip'd)
        if page.failure is not None or not page.body:
            continue
        digest = sha256(page.body)
        rel = f"{scan_id}/{pages.site_id}/{digest[:16]}{_suffix(page.content_type)}"
        path = private_dirs(folder, EVIDENCE_DIR, scan_id, pages.site_id) / rel.rsplit("/", 1)[1]
        if not path.exists():
            write_private(path, page.body)
        rows.append(
            {
                "url": page.url,
                "final_url": page.final_url,
                "fetched_at": page.fetched_at or utc_now(),
                "http_status": page.status,
                "content_type": page.content_type,
                "headers": dict(page.headers),
                "sha256": digest,
                "file": rel,
                "tool_version": __version__,
            }
        )
    return rows


@dataclass(frozen=True)
class Capture:
    """One logged page of the evidence, as the history database keeps it."""

    id: int
    scan_id: str
    site_id: str
    url: str
    final_url: str
    fetched_at: str
    http_status: int | None
    content_type: str
    headers: Mapping[str, str]
    sha256: str
    file: str
    tool_version: str
    shot_file: str | None = None
    shot_sha256: str | None = None
    shot_at: str | None = None
    shot_note: str = ""


def captures(db: Any, scan_id: str | None = None) -> list[Capture]:
    """The evidence log (of one scan, or all), oldest first. `db` is the history's sqlite3 connection."""
    sql = (
        "SELECT id, scan_id, site_id, url, final_url, fetched_at, http_status, content_type, headers, sha256, file,"
        " tool_version, shot_file, shot_sha256, shot_at, shot_note FROM captures"
    )
    rows = db.execute(
        sql + (" WHERE scan_id=? ORDER BY id" if scan_id else " ORDER BY id"), (scan_id,) if scan_id else ()
    )
    return [
        Capture(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            json.loads(r[8]),
            r[9],
            r[10],
            r[11],
            r[12],
            r[13],
            r[14],
            r[15],
        )
        for r in rows
    ]


@dataclass
class ShotSummary:
    taken: int = 0
    failed: list[str] = field(default_factory=list)  # why, per capture that has no screenshot


def _banner(c: Capture, shot_at: str) -> str:
    status = f"HTTP {c.http_status}" if c.http_status is not None else "no HTTP status"
    lines = [
        f"Saved copy of {c.url}",
        *([f"Redirected to {c.final_url}"] if c.final_url and c.final_url != c.url else []),
        f"Fetched {c.fetched_at} UTC ({status}); SHA-256 of the page: {c.sha256}",
        f"Rendered {shot_at} UTC from the saved page, offline, scripts off, by exposure {__version__}",
    ]
    return "".join(f"<div>{html.escape(line)}</div>" for line in lines)


def take_screenshots(folder: Path, db: Any, scan_id: str | None = None, chromium: Path | None = None) -> ShotSummary:
    """Screenshot every logged page that has none yet. Never raises for a missing browser or a page that will
    not render: the reason is logged with the capture and the page file stays the evidence."""
    todo = [c for c in captures(db, scan_id) if not c.shot_file]
    summary = ShotSummary()
    if not todo:
        return summary

    def note(c: Capture, why: str) -> None:
        summary.failed.append(f"{c.url}: {why}")
        db.execute("UPDATE captures SET shot_note=? WHERE id=?", (why, c.id))

    chromium = chromium or default_chromium()
    if not chromium.exists():
        for c in todo:
            note(c, f"no screenshot: {chromium} is not installed (apt-get install chromium)")
        return summary
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        for c in todo:
            note(c, "no screenshot: the playwright package is not installed")
        return summary
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=list(LAUNCH_ARGS))
            try:
                for c in todo:
                    try:
                        body = (folder / EVIDENCE_DIR / c.file).read_bytes()
                    except OSError as exc:
                        note(c, f"no screenshot: the saved page cannot be read ({exc.strerror})")
                        continue
                    if sha256(body) != c.sha256:
                        note(c, "no screenshot: the saved page no longer matches its hash")
                        continue
                    context = browser.new_context(
                        java_script_enabled=False,
                        offline=True,
                        service_workers="block",
                        viewport={"width": SHOT_WIDTH, "height": 900},
                    )
                    try:
                        context.route("**/*", _serve_once(c, body))
                        page = context.new_page()
                        page.goto(c.url, wait_until="load", timeout=20_000)
                        shot = page.screenshot(
                            full_page=True, clip={"x": 0, "y": 0, "width": SHOT_WIDTH, "height": SHOT_MAX_HEIGHT}
                        )
                        shot_at = utc_now()

                        picture = base64.b64encode(shot).decode()
                        framed = context.new_page()
                        framed.set_content(
                            "<!doctype html><meta charset=utf-8><body style='margin:0;font:14px/1.4 monospace'>"
                            "<div style='background:#fff3b0;color:#000;padding:8px 12px;border-bottom:3px solid #000;"
                            f"word-break:break-all'>{_banner(c, shot_at)}</div>"
                            f"<img style='display:block' src='data:image/png;base64,{picture}'>",
                            wait_until="load",
                        )
                        png = framed.screenshot(full_page=True)
                    except PlaywrightError as exc:
                        note(c, f"no screenshot: Chromium could not render the page ({str(exc).splitlines()[0][:200]})")
                        continue
                    finally:
                        context.close()
                    rel = c.file.rsplit(".", 1)[0] + ".png"
                    write_private(folder / EVIDENCE_DIR / rel, png)
                    db.execute(
                        "UPDATE captures SET shot_file=?, shot_sha256=?, shot_at=?, shot_note='' WHERE id=?",
                        (rel, sha256(png), shot_at, c.id),
                    )
                    summary.taken += 1
            finally:
                browser.close()
    except PlaywrightError as exc:
        for c in todo:
            if c.url not in " ".join(summary.failed):
                note(c, f"no screenshot: Chromium did not start ({str(exc).splitlines()[0][:200]})")
    return summary


def _serve_once(c: Capture, body: bytes) -> Callable[[Any], None]:
    """A route handler: the saved bytes are the page, once; everything else the page asks for is refused."""
    served: list[bool] = []

    def route(r: Any) -> None:
        request = r.request
        if not served and request.is_navigation_request() and request.frame.parent_frame is None:
            served.append(True)
            ctype = c.content_type or "text/html"
            r.fulfill(status=c.http_status or 200, headers={"content-type": ctype}, body=body)
        else:
            r.abort("blockedbyclient")

    return route


# -- the zip ------------------------------------------------------------------------------------------------


def _warc(rows: Sequence[Capture], read: Callable[[str], bytes]) -> bytes:
    """The captures as a gzipped WARC: a warcinfo record, then per page a `response` record dated when it was
    fetched, and its screenshot as a `conversion` record referring to it."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    writer.write_record(
        writer.create_warcinfo_record(
            "captures.warc.gz",
            {
                "software": f"exposure {__version__} (warcio)",
                "format": "WARC File Format 1.0",
                "description": "Pages that list the person, as fetched by exposure; bodies as received after "
                "content-encoding was undone (Content-Encoding and Transfer-Encoding headers are therefore left "
                "out, Content-Length is the body's)",
            },
        )
    )
    for c in rows:
        body = read(c.file)
        status = c.http_status or 200
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        headers = [
            (k, v)
            for k, v in c.headers.items()
            if k.lower() not in ("content-encoding", "transfer-encoding", "content-length")
        ]
        headers.append(("Content-Length", str(len(body))))
        http_headers = StatusAndHeaders(f"{status} {reason}", headers, protocol="HTTP/1.1")
        record = writer.create_warc_record(
            c.url,
            "response",
            payload=io.BytesIO(body),
            http_headers=http_headers,
            warc_headers_dict={"WARC-Date": c.fetched_at},
        )
        writer.write_record(record)
        if c.shot_file and c.shot_at:
            shot = read(c.shot_file)
            writer.write_record(
                writer.create_warc_record(
                    c.url,
                    "conversion",
                    payload=io.BytesIO(shot),
                    warc_content_type="image/png",
                    warc_headers_dict={
                        "WARC-Date": c.shot_at,
                        "WARC-Refers-To": record.rec_headers.get_header("WARC-Record-ID"),
                    },
                )
            )
    return out.getvalue()


@dataclass(frozen=True)
class Exported:
    path: Path
    manifest_sha256: str
    pages: int
    screenshots: int
    files: int


README = """Evidence exported by exposure {version} on {now} UTC, scan {scan}.

pages/        each page that lists you, byte for byte as fetched
screenshots/  each saved page rendered offline (scripts off, no network), its URL and times printed on it
captures.warc.gz  the same pages and screenshots as a WARC web archive (response and conversion records)
report/       the scan's reports
manifest.csv  one row per file: time (UTC), URL, method, SHA-256, file, tool version

The SHA-256 of manifest.csv was printed when this zip was written: {manifest}
Check everything with:  exposure evidence verify THIS.zip
"""


def export(
    folder: Path,
    db: Any,
    scan_id: str,
    out: Path,
    reports: Mapping[str, bytes],
) -> Exported:
    """Write the scan's evidence zip to `out` (0600) and return the manifest's SHA-256."""
    rows = captures(db, scan_id)
    base = folder / EVIDENCE_DIR

    def read(rel: str) -> bytes:
        try:
            return (base / rel).read_bytes()
        except OSError as exc:
            raise EvidenceError(base / rel, f"the evidence file cannot be read ({exc.strerror})") from exc

    members: list[tuple[str, bytes, dict[str, str]]] = []
    for c in rows:
        body = read(c.file)
        if sha256(body) != c.sha256:
            raise EvidenceError(base / c.file, "this saved page no longer matches the hash logged when it was fetched")
        members.append(
            (
                f"pages/{c.file}",
                body,
                {"time": c.fetched_at, "url": c.url, "method": FETCH_METHOD + f" (HTTP {c.http_status})"},
            )
        )
        if c.shot_file and c.shot_sha256:
            shot = read(c.shot_file)
            if sha256(shot) != c.shot_sha256:
                raise EvidenceError(base / c.shot_file, "this screenshot no longer matches the hash logged when taken")
            members.append(
                (f"screenshots/{c.shot_file}", shot, {"time": c.shot_at or "", "url": c.url, "method": SHOT_METHOD})
            )
    now = utc_now()
    if rows:
        members.append(
            (
                "captures.warc.gz",
                _warc(rows, read),
                {"time": now, "url": "", "method": "WARC 1.0 of the pages and screenshots, written with warcio"},
            )
        )
    for name, data in reports.items():
        members.append(
            (f"report/{name}", data, {"time": now, "url": "", "method": "report of the scan, rendered by exposure"})
        )
    manifest = io.StringIO()
    w = csv.DictWriter(manifest, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
    w.writeheader()
    for name, data, meta in members:
        w.writerow({**meta, "sha256": sha256(data), "file": name, "tool_version": __version__})
    manifest_bytes = manifest.getvalue().encode("utf-8")
    digest = sha256(manifest_bytes)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, manifest_bytes)
        zf.writestr("README.txt", README.format(version=__version__, now=now, scan=scan_id, manifest=digest))
        for name, data, _ in members:
            zf.writestr(name, data)
    write_private(out, buf.getvalue())
    shots = sum(1 for c in rows if c.shot_file)
    return Exported(out, digest, len(rows), shots, len(members))


@dataclass(frozen=True)
class Verified:
    manifest_sha256: str
    checked: int
    problems: tuple[str, ...]  # one line per file that changed, is missing or is not in the manifest

    @property
    def ok(self) -> bool:
        return not self.problems


def _member_sha256(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    h = hashlib.sha256()
    seen = 0
    with zf.open(info) as f:
        while chunk := f.read(1 << 16):
            seen += len(chunk)
            if seen > MAX_MEMBER:
                raise EvidenceError(
                    info.filename, f"larger than {MAX_MEMBER // (1024 * 1024)} MiB: not an export of ours"
                )
            h.update(chunk)
    return h.hexdigest()


def verify(path: Path) -> Verified:
    """Re-check every hash of an evidence zip. Raises EvidenceError for a file that is not such a zip."""
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise EvidenceError(path, f"not a zip file that can be read ({exc})") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise EvidenceError(path, f"more than {MAX_MEMBERS} files: not an evidence export")
        if sum(i.file_size for i in infos) > MAX_TOTAL:
            raise EvidenceError(path, f"more than {MAX_TOTAL // 1024**3} GiB unpacked: not an evidence export")
        by_name = {i.filename: i for i in infos}
        if MANIFEST not in by_name:
            raise EvidenceError(path, f"no {MANIFEST} in it: not an evidence export")
        try:
            if by_name[MANIFEST].file_size > MAX_MEMBER:
                raise EvidenceError(path, f"{MANIFEST} is too large")
            manifest_bytes = zf.read(MANIFEST)
            rows = list(csv.DictReader(io.StringIO(manifest_bytes.decode("utf-8"))))
        except (UnicodeDecodeError, csv.Error, zipfile.BadZipFile, OSError) as exc:
            raise EvidenceError(path, f"{MANIFEST} cannot be read ({exc})") from exc
        problems: list[str] = []
        listed: set[str] = set()
        for n, row in enumerate(rows, start=2):
            name, want = row.get("file") or "", (row.get("sha256") or "").lower()
            if not name or len(want) != 64:
                problems.append(f"{MANIFEST} line {n}: no file name or SHA-256")
                continue
            listed.add(name)
            info = by_name.get(name)
            if info is None:
                problems.append(f"{name}: missing from the zip")
                continue
            try:
                got = _member_sha256(zf, info)
            except (zipfile.BadZipFile, OSError, EvidenceError) as exc:
                problems.append(f"{name}: cannot be read ({exc})")
                continue
            if got != want:
                problems.append(f"{name}: changed (SHA-256 is {got}, the manifest says {want})")
        for name in by_name:
            if name not in listed and name not in (MANIFEST, "README.txt") and not name.endswith("/"):
                problems.append(f"{name}: not in the manifest")
    return Verified(sha256(manifest_bytes), len(rows), tuple(problems))
