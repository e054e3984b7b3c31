"""Byte-level HTTP servers that behave like the hostile web, for testing the fetcher and the classifier.

Why raw asyncio streams and not aiohttp: a real framework refuses to send a Content-Length it does not
honour, to reset a connection mid-body, or to hang before the status line. Here every byte is ours.
Each server runs its own event loop in a background thread, so sync and async tests can both use it,
and listens on 127.0.0.1 only. Every response says `Connection: close` and the connection is closed
after it. Every wait is bounded (`hold_seconds`, 120 s by default), and leaving the context manager
cancels whatever is still being served, so a test that forgets a connection cannot hang the run.

    with CountingServer() as other, HostileServer(other_base=other.base) as hostile:
        fetch(hostile.base + "/redirect-307-offsite")
        assert other.count == 0           # the fetcher did not follow a redirect off-site
        assert hostile.hits["/redirect-307-offsite"] == 1

Routes of `HostileServer` (GET; any query string is ignored unless noted) and what each tests:

Decompression bombs (served whatever Accept-Encoding says, with an honest Content-Length):
    /gzip-bomb            ~200 KB of gzip inflating to 200 MiB of spaces: a decoded-size cap
    /deflate-bomb         the same as a zlib stream, Content-Encoding: deflate
    /brotli-bomb          ~200 bytes of brotli inflating to 256 MiB of spaces
    /stacked-encoding     Content-Encoding: gzip, gzip, gzip, gzip; the body really is gzipped four
                          times around a small results page: a cap on the number of decoders
    /unasked-encoding     Content-Encoding: zstd (never offered) around a valid zstd frame of a results
                          page; `?enc=br-x` sends a made-up coding instead: refuse, do not guess
Size and time:
    /big                  50 MiB text/html with Content-Length, streamed: a body-size cap
    /slow                 Content-Length: 10000, then one byte per second (`?interval=0.1` for faster
                          drips): a total deadline, since no single read ever times out
    /hang                 a 200 status line and headers, then nothing: a read timeout
    /no-headers-hang      reads the request and never answers: a timeout before the status line
    /reset                Content-Length: 1000000, half the body, then a TCP reset: a truncated body is
                          an error, never a page
Redirects:
    /redirect-loop        302 to itself with ?n=<n+1>, for ever: a redirect cap
    /redirect-chain/N     N hops (302 to /redirect-chain/N-1), then a results page at /redirect-chain/0
    /redirect-307-offsite 307 to `other_base` + "/stolen" (500 if no other_base): off-site redirects
    /redirect-js          Location: javascript:alert(1)
    /redirect-file        Location: file:///etc/passwd
    /redirect-userinfo    Location: http://user:pw@127.0.0.1:PORT/x: credentials in a redirect
Block pages (synthetic, with the markers real ones carry; files in pages/, table in `CANNED`):
    /block/cloudflare            403, cf-mitigated: challenge, "Just a moment...", /cdn-cgi/challenge-platform/
    /block/cloudflare-attention  403, "Attention Required! | Cloudflare"
    /block/perimeterx            403, <div id="px-captcha">, "Press & Hold"
    /block/datadome              403, x-datadome header, script from captcha-delivery.com
    /block/akamai                403, Server: AkamaiGHost, "Access Denied", "Reference #18.…"
    /block/akamai-escaped        the same as Akamai serves it today: the reference written with entities
                                 ("Reference&#32;&#35;18&#46;…"), so only decoded text shows "Reference #18."
    /block/imperva               200 (as Incapsula answers), "Incapsula incident ID", _Incapsula_Resource
    /block/ddos-guard            403, Server: ddos-guard, title "DDoS-Guard"
    /block/aws-waf               403, x-amzn-waf-action: captcha, gokuProps and captcha.awswaf.com script
    /block/hcaptcha, /block/recaptcha, /block/turnstile
                                 200, the site's own page holding only a captcha widget, no results
Pages that must NOT be classified blocked:
    /ok                                  a small results page (three `div.card` listings)
    /results-with-access-denied-script   results whose inline script and contact form say "Access Denied"
    /results-behind-cloudflare           results served through Cloudflare (Server: cloudflare, cf-ray)
                                         with the email-protection link and the challenge-platform
                                         "jsd" script Cloudflare injects into ordinary pages
Rate limits and flaky answers:
    /429-small            429, Retry-After: 1
    /429-huge             429, Retry-After: 3600
    /429-date             429, Retry-After as an HTTP date 2-3 s ahead
    /503-then-200?key=K   the first request for each K is a 503, later ones a results page
Content the classifier cannot read:
    /bad-charset          Content-Type: text/html; charset=x-no-such-charset, a body that is not UTF-8
    /binary               application/octet-stream
    /image                image/png, a real 1x1 PNG
Anything else is a 404. `CountingServer` answers every request with 200 "ok" and counts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import gzip
import math
import socket
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs, urlsplit

import brotli

PAGES_DIR = Path(__file__).parent / "pages"

HOST = "127.0.0.1"
MAX_HEAD = 64 * 1024  # a request head longer than this gets a 431
HEAD_TIMEOUT = 10.0  # a client that connects and sends nothing is dropped after this
CHUNK = 64 * 1024

GZIP_BOMB_SIZE = 200 * 1024 * 1024  # decoded size of /gzip-bomb and /deflate-bomb
BROTLI_BOMB_SIZE = 256 * 1024 * 1024  # decoded size of /brotli-bomb
BIG_SIZE = 50 * 1024 * 1024
SLOW_SIZE = 10_000
RESET_SIZE = 1_000_000  # announced; half of it is sent before the reset
MAX_CHAIN = 1000  # /redirect-chain/N accepts N up to this


def page(name: str) -> bytes:
    """The bytes of one file in pages/ (block pages and results pages, also usable as plain fixtures)."""
    return (PAGES_DIR / name).read_bytes()


@dataclass(frozen=True)
class Canned:
    """A fixed response served from pages/: what the site sends, and what a classifier should make of it."""

    status: int
    file: str
    headers: tuple[tuple[str, str], ...] = ()
    blocked: bool = True
    vendor: str = ""
    content_type: str = "text/html; charset=UTF-8"


_CF = (("Server", "cloudflare"), ("CF-RAY", "8e6f0a1b2c3d4e5f-ORD"))
_NO_STORE = ("Cache-Control", "private, max-age=0, no-store, no-cache, must-revalidate")

# Route -> canned response. Tests of the classifier can parametrize over this table.
CANNED: dict[str, Canned] = {
    "/block/cloudflare": Canned(
        403,
        "cloudflare.html",
        (*_CF, ("cf-mitigated", "challenge"), _NO_STORE, ("X-Frame-Options", "SAMEORIGIN")),
        vendor="Cloudflare",
    ),
    "/block/cloudflare-attention": Canned(
        403, "cloudflare-attention.html", (*_CF, _NO_STORE, ("X-Frame-Options", "SAMEORIGIN")), vendor="Cloudflare"
    ),
    "/block/perimeterx": Canned(403, "perimeterx.html", (("Cache-Control", "no-cache"),), vendor="PerimeterX"),
    "/block/datadome": Canned(
        403,
        "datadome.html",
        (
            ("X-DataDome", "protected"),
            ("X-DD-B", "1"),
            ("Set-Cookie", "datadome=c3ludGhldGljLWNvb2tpZQ; Max-Age=31536000; Path=/; Secure; SameSite=Lax"),
            ("Cache-Control", "max-age=0, private, no-cache, no-store, must-revalidate"),
        ),
        vendor="DataDome",
    ),
    "/block/akamai": Canned(
        403,
        "akamai.html",
        (("Server", "AkamaiGHost"), ("Mime-Version", "1.0")),
        vendor="Akamai",
        content_type="text/html",
    ),
    "/block/akamai-escaped": Canned(
        403,
        "akamai-escaped.html",
        (("Server", "AkamaiGHost"), ("Mime-Version", "1.0")),
        vendor="Akamai",
        content_type="text/html",
    ),
    "/block/imperva": Canned(
        200,
        "imperva.html",
        (
            ("X-CDN", "Imperva"),
            ("X-Iinfo", "8-12345678-0 0NNN RT(1732182400000 12) q(0 -1 -1 0) r(0 -1) B12(4,316,0) U18"),
            ("Set-Cookie", "visid_incap_1234567=c3ludGhldGljLXZpc2l0b3I=; path=/; HttpOnly; SameSite=None; Secure"),
            ("Set-Cookie", "incap_ses_123_1234567=c3ludGhldGljLXNlc3Npb24=; path=/; SameSite=None; Secure"),
        ),
        vendor="Imperva",
    ),
    "/block/ddos-guard": Canned(
        403,
        "ddos-guard.html",
        (("Server", "ddos-guard"), ("Set-Cookie", "__ddg1_=c3ludGhldGljZGRn; Path=/; HttpOnly; Max-Age=31536000")),
        vendor="DDoS-Guard",
    ),
    "/block/aws-waf": Canned(
        403,
        "aws-waf.html",
        (("x-amzn-waf-action", "captcha"), ("Server", "awselb/2.0"), ("Cache-Control", "no-store, max-age=0")),
        vendor="AWS WAF",
    ),
    "/block/hcaptcha": Canned(200, "hcaptcha.html", vendor="hCaptcha"),
    "/block/recaptcha": Canned(200, "recaptcha.html", vendor="reCAPTCHA"),
    "/block/turnstile": Canned(200, "turnstile.html", vendor="Cloudflare Turnstile"),
    "/ok": Canned(200, "results.html", blocked=False),
    "/results-with-access-denied-script": Canned(200, "results-with-access-denied-script.html", blocked=False),
    "/results-behind-cloudflare": Canned(
        200,
        "results-behind-cloudflare.html",
        (*_CF, ("Cache-Control", "max-age=300"), ("Vary", "Accept-Encoding")),
        blocked=False,
        vendor="Cloudflare",
    ),
}


# ---------------------------------------------------------------------------------------------------------
# Bodies built once per process. The bombs are small but take about half a second to compress, so they are
# built on first use, in a worker thread (never on the event loop), and kept in memory.

_bomb_lock = threading.Lock()
_bombs: dict[str, bytes] = {}
_BOMB_PREFIX = b"<!doctype html><html><head><title>results</title></head><body>"


def _build_deflate_bombs() -> None:
    """One raw deflate stream of GZIP_BOMB_SIZE bytes, wrapped twice (gzip and zlib): half the build time."""
    fill = b" " * (1024 * 1024)
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS, 8)
    crc = zlib.crc32(_BOMB_PREFIX)
    adler = zlib.adler32(_BOMB_PREFIX)
    parts = [comp.compress(_BOMB_PREFIX)]
    remaining = GZIP_BOMB_SIZE - len(_BOMB_PREFIX)
    while remaining > 0:
        piece = fill[: min(remaining, len(fill))]
        parts.append(comp.compress(piece))
        crc = zlib.crc32(piece, crc)
        adler = zlib.adler32(piece, adler)
        remaining -= len(piece)
    parts.append(comp.flush())
    raw = b"".join(parts)
    # gzip member: magic, CM=deflate, no flags, mtime 0, XFL=2 (best compression), OS=255 (unknown)
    gz_header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    _bombs["gzip"] = gz_header + raw + struct.pack("<II", crc, GZIP_BOMB_SIZE & 0xFFFFFFFF)
    # zlib stream: CMF 0x78 (deflate, 32 KiB window), FLG 0xDA (level 9, check bits), Adler-32 big-endian
    _bombs["deflate"] = b"\x78\xda" + raw + struct.pack(">I", adler)


def _build_brotli_bomb() -> None:
    """Brotli of 256 MiB of spaces, fed in chunks: brotli.compress of one huge buffer needs it all in memory."""
    fill = b" " * (1024 * 1024)
    comp = brotli.Compressor(quality=5, lgwin=24)  # quality 11 takes ~12 s for a 5% smaller bomb
    parts = [comp.process(_BOMB_PREFIX)]
    remaining = BROTLI_BOMB_SIZE - len(_BOMB_PREFIX)
    while remaining > 0:
        piece = fill[: min(remaining, len(fill))]
        parts.append(comp.process(piece))
        remaining -= len(piece)
    parts.append(comp.finish())
    _bombs["br"] = b"".join(parts)


def bomb(kind: str) -> bytes:
    """The compressed bytes served by /gzip-bomb ("gzip"), /deflate-bomb ("deflate") or /brotli-bomb ("br")."""
    with _bomb_lock:
        if kind not in _bombs:
            if kind in ("gzip", "deflate"):
                _build_deflate_bombs()
            elif kind == "br":
                _build_brotli_bomb()
            else:
                raise KeyError(kind)
        return _bombs[kind]


def zstd_frame(data: bytes) -> bytes:
    """A valid zstd frame holding `data` as one raw (uncompressed) block, without the zstandard package.

    Frame header descriptor 0xA0: a 4-byte content size, single segment (no window descriptor), no checksum,
    no dictionary. A raw block may hold at most 128 KiB.
    """
    if len(data) >= 128 * 1024:
        raise ValueError("one raw zstd block holds less than 128 KiB")
    block_header = (len(data) << 3) | 1  # Block_Size, Block_Type 0 (raw), Last_Block 1
    return b"\x28\xb5\x2f\xfd" + b"\xa0" + struct.pack("<I", len(data)) + block_header.to_bytes(3, "little") + data


def stacked_gzip(data: bytes, layers: int = 4) -> bytes:
    """`data` gzipped `layers` times; the outermost layer is the last coding in Content-Encoding."""
    for _ in range(layers):
        data = gzip.compress(data, mtime=0)
    return data


def _png_1x1() -> bytes:
    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)  # 1x1, 8-bit RGBA
    idat = zlib.compress(b"\x00\xff\xff\xff\x00")  # filter 0, one transparent white pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


PNG_1X1 = _png_1x1()

# A results page in Windows-1252 with bytes that are invalid UTF-8 (0x93/0x94 quotes, 0xE9, a stray 0xFF).
BAD_CHARSET_BODY = (
    b"<!doctype html><html><head><title>Caf\xe9 records</title></head><body>"
    b'<div class="card"><a class="name" href="/p/1">Zo\xeb Testwood</a> <div class="location">'
    b"Springfield, IL</div><p>\x93Quoted\x94 \xff\xfe notes</p></div></body></html>"
)

BINARY_BODY = bytes(range(256)) * 64


# ---------------------------------------------------------------------------------------------------------
# The server machinery.


@dataclass(frozen=True)
class SeenRequest:
    """One request as the server read it (header names lower-cased)."""

    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class _Conn:
    """One accepted connection: helpers to write a response and to notice the client leaving."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        # Keep little in asyncio's buffer, so a streaming route notices a stalled client and stops early.
        writer.transport.set_write_buffer_limits(high=CHUNK * 2)

    async def head(self, status: int, headers: Iterable[tuple[str, str]]) -> None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [f"HTTP/1.1 {status} {reason}", f"Date: {email.utils.formatdate(usegmt=True)}"]
        lines += [f"{name}: {value}" for name, value in headers]
        lines += ["Connection: close", "", ""]
        self.writer.write("\r\n".join(lines).encode("latin-1"))
        await self.writer.drain()

    async def respond(self, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> None:
        """A complete response whose Content-Length is the body's length."""
        headers = list(headers)
        if not any(name.lower() == "content-length" for name, _ in headers):
            headers.append(("Content-Length", str(len(body))))
        await self.head(status, headers)
        self.writer.write(body)
        await self.writer.drain()

    async def html(self, status: int, body: bytes, headers: Iterable[tuple[str, str]] = ()) -> None:
        await self.respond(status, [("Content-Type", "text/html; charset=utf-8"), *headers], body)

    async def redirect(self, status: int, location: str) -> None:
        body = b"<html><body>Moved.</body></html>"
        await self.html(status, body, [("Location", location)])

    async def wait_gone(self, timeout: float) -> bool:
        """Wait until the client closes its side (True) or `timeout` passes (False); discards what it sends."""
        try:
            async with asyncio.timeout(timeout):
                while await self.reader.read(CHUNK):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            pass
        return True

    @property
    def closing(self) -> bool:
        return self.writer.transport.is_closing()

    async def flushed(self, timeout: float) -> None:
        """Wait until asyncio has handed every written byte to the kernel (bounded)."""
        deadline = time.monotonic() + timeout
        while self.writer.transport.get_write_buffer_size() and time.monotonic() < deadline and not self.closing:
            await asyncio.sleep(0.01)

    def reset(self) -> None:
        """Close with a TCP RST instead of a FIN: SO_LINGER on with a zero timeout, then close."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


async def _read_request(conn: _Conn) -> SeenRequest | None:
    """Read one request head (bounded in size and time). None when the client sent nothing usable."""
    try:
        async with asyncio.timeout(HEAD_TIMEOUT):
            raw = await conn.reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
        return None
    except asyncio.LimitOverrunError:
        await conn.html(431, b"request head too large")
        return None
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        await conn.html(400, b"bad request line")
        return None
    method, target, _version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    url = urlsplit(target)
    return SeenRequest(method, target, url.path or "/", parse_qs(url.query), headers)


class _BackgroundServer:
    """An asyncio server on 127.0.0.1 with its own loop in a daemon thread; a context manager."""

    def __init__(self, hold_seconds: float = 120.0) -> None:
        self.hold_seconds = hold_seconds  # the longest any route keeps a connection open on purpose
        self.port = 0
        self.base = ""
        self.requests: list[SeenRequest] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def open_connections(self) -> int:
        """Connections still being served: lets a test check the server noticed a client leaving."""
        return len(self._tasks)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"{type(self).__name__} did not start")
        if self._error is not None:
            raise RuntimeError(f"{type(self).__name__} failed to start") from self._error

    def stop(self) -> None:
        """Cancel every connection, close the socket, and join the thread (bounded)."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop already finished
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=15)
        if self._thread.is_alive():
            raise RuntimeError(f"{type(self).__name__} thread did not stop")
        self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._on_connect, HOST, 0, limit=MAX_HEAD)
        self.port = server.sockets[0].getsockname()[1]
        self.base = f"http://{HOST}:{self.port}"
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await server.wait_closed()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(_Conn(reader, writer))
        except asyncio.CancelledError:
            # Only stop() cancels a connection. Ending quietly matters: on Python 3.11 the stream protocol
            # calls task.exception() on its handler, which re-raises a cancellation into the loop's log.
            pass
        finally:
            writer.transport.abort()  # no-op once closed; else drop unsent data and free the socket now
            self._tasks.discard(task)

    async def _serve(self, conn: _Conn) -> None:
        try:
            request = await _read_request(conn)
            if request is not None:
                self.requests.append(request)
                await self.handle(request, conn)
        except (ConnectionError, OSError):
            return  # the client went away mid-response: that is what most routes are for
        if not conn.closing:
            conn.writer.close()  # a FIN after the data, once asyncio has flushed it
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await conn.writer.wait_closed()

    async def handle(self, request: SeenRequest, conn: _Conn) -> None:
        raise NotImplementedError


class CountingServer(_BackgroundServer):
    """An innocent second origin: answers every request 200 "ok" and counts them (`.count`)."""

    def __init__(self, hold_seconds: float = 120.0) -> None:
        super().__init__(hold_seconds)
        self.count = 0

    async def handle(self, request: SeenRequest, conn: _Conn) -> None:
        self.count += 1
        await conn.respond(200, [("Content-Type", "text/plain")], b"ok")


Route = Callable[[SeenRequest, _Conn], Awaitable[None]]


class HostileServer(_BackgroundServer):
    """The hostile web on one port; see the module docstring for the routes.

    `.base` is "http://127.0.0.1:PORT"; `.hits` counts requested paths (query left out); `.requests` keeps
    every request head in order; `.open_connections` tells whether the server noticed a client leaving.
    `other_base` is where /redirect-307-offsite points (a CountingServer's base); `hold_seconds` caps how
    long /slow, /hang and /no-headers-hang keep a connection.
    """

    def __init__(self, other_base: str | None = None, *, hold_seconds: float = 120.0) -> None:
        super().__init__(hold_seconds)
        self.other_base = other_base.rstrip("/") if other_base else None
        self.hits: Counter[str] = Counter()
        self._seen_keys: set[str] = set()  # /503-then-200 keys already answered with a 503
        self._routes: dict[str, Route] = {
            "/gzip-bomb": self._gzip_bomb,
            "/deflate-bomb": self._deflate_bomb,
            "/brotli-bomb": self._brotli_bomb,
            "/stacked-encoding": self._stacked_encoding,
            "/unasked-encoding": self._unasked_encoding,
            "/big": self._big,
            "/slow": self._slow,
            "/hang": self._hang,
            "/no-headers-hang": self._no_headers_hang,
            "/reset": self._reset,
            "/redirect-loop": self._redirect_loop,
            "/redirect-307-offsite": self._redirect_offsite,
            "/redirect-js": self._redirect_js,
            "/redirect-file": self._redirect_file,
            "/redirect-userinfo": self._redirect_userinfo,
            "/429-small": self._429_small,
            "/429-huge": self._429_huge,
            "/429-date": self._429_date,
            "/503-then-200": self._503_then_200,
            "/bad-charset": self._bad_charset,
            "/binary": self._binary,
            "/image": self._image,
        }

    def url(self, path: str) -> str:
        return self.base + path

    async def handle(self, request: SeenRequest, conn: _Conn) -> None:
        self.hits[request.path] += 1
        if request.method != "GET":
            await conn.respond(405, [("Allow", "GET"), ("Content-Type", "text/plain")], b"GET only")
            return
        if request.path in self._routes:
            await self._routes[request.path](request, conn)
        elif request.path in CANNED:
            canned = CANNED[request.path]
            headers = [("Content-Type", canned.content_type), *canned.headers]
            await conn.respond(canned.status, headers, page(canned.file))
        elif request.path.startswith("/redirect-chain/"):
            await self._redirect_chain(request, conn)
        else:
            await conn.html(404, b"<html><body><h1>Not Found</h1></body></html>")

    # -- encodings ------------------------------------------------------------------------------------

    async def _serve_bomb(self, conn: _Conn, kind: str, coding: str) -> None:
        body = await asyncio.get_running_loop().run_in_executor(None, bomb, kind)
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", coding)]
        await conn.head(200, [*headers, ("Content-Length", str(len(body)))])
        for start in range(0, len(body), CHUNK):
            if conn.closing:
                return
            conn.writer.write(body[start : start + CHUNK])
            await conn.writer.drain()

    async def _gzip_bomb(self, request: SeenRequest, conn: _Conn) -> None:
        await self._serve_bomb(conn, "gzip", "gzip")

    async def _deflate_bomb(self, request: SeenRequest, conn: _Conn) -> None:
        await self._serve_bomb(conn, "deflate", "deflate")

    async def _brotli_bomb(self, request: SeenRequest, conn: _Conn) -> None:
        await self._serve_bomb(conn, "br", "br")

    async def _stacked_encoding(self, request: SeenRequest, conn: _Conn) -> None:
        await conn.html(200, stacked_gzip(page("results.html")), [("Content-Encoding", "gzip, gzip, gzip, gzip")])

    async def _unasked_encoding(self, request: SeenRequest, conn: _Conn) -> None:
        coding = request.query.get("enc", ["zstd"])[0]
        body = zstd_frame(page("results.html")) if coding == "zstd" else b"\x8b\x00br-x:" + BINARY_BODY[:512]
        await conn.html(200, body, [("Content-Encoding", coding)])

    # -- size and time ---------------------------------------------------------------------------------

    async def _big(self, request: SeenRequest, conn: _Conn) -> None:
        first = b"<!doctype html><html><head><title>Big</title></head><body>\n"
        filler = b"<p>lorem ipsum dolor sit amet, consectetur adipiscing elit</p>\n"
        chunk = (filler * (CHUNK // len(filler) + 1))[:CHUNK]
        await conn.head(200, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(BIG_SIZE))])
        sent = 0
        deadline = time.monotonic() + self.hold_seconds
        while sent < BIG_SIZE and not conn.closing and time.monotonic() < deadline:
            piece = (first + chunk)[:CHUNK] if sent == 0 else chunk
            piece = piece[: BIG_SIZE - sent]
            conn.writer.write(piece)
            sent += len(piece)
            await conn.writer.drain()

    async def _slow(self, request: SeenRequest, conn: _Conn) -> None:
        try:
            interval = min(max(float(request.query.get("interval", ["1"])[0]), 0.01), 10.0)
        except ValueError:
            interval = 1.0
        body = page("results.html").ljust(SLOW_SIZE, b" ")[:SLOW_SIZE]
        await conn.head(200, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(SLOW_SIZE))])
        gone = asyncio.ensure_future(conn.wait_gone(self.hold_seconds))
        try:
            for i in range(SLOW_SIZE):
                done, _ = await asyncio.wait({gone}, timeout=interval)
                if done or conn.closing:
                    return
                conn.writer.write(body[i : i + 1])
                await conn.writer.drain()
        finally:
            gone.cancel()

    async def _hang(self, request: SeenRequest, conn: _Conn) -> None:
        await conn.head(200, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "5000")])
        await conn.wait_gone(self.hold_seconds)

    async def _no_headers_hang(self, request: SeenRequest, conn: _Conn) -> None:
        await conn.wait_gone(self.hold_seconds)

    async def _reset(self, request: SeenRequest, conn: _Conn) -> None:
        await conn.head(200, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(RESET_SIZE))])
        half = (page("results.html") * (RESET_SIZE // 1000))[: RESET_SIZE // 2]
        conn.writer.write(half)
        await conn.flushed(timeout=5)
        # Give a reading client a moment to take the bytes: Linux drops unread data when the RST arrives.
        await asyncio.sleep(0.2)
        conn.reset()

    # -- redirects -------------------------------------------------------------------------------------

    async def _redirect_loop(self, request: SeenRequest, conn: _Conn) -> None:
        try:
            n = int(request.query.get("n", ["0"])[0])
        except ValueError:
            n = 0
        await conn.redirect(302, f"/redirect-loop?n={n + 1}")

    async def _redirect_chain(self, request: SeenRequest, conn: _Conn) -> None:
        rest = request.path.removeprefix("/redirect-chain/")
        if not rest.isdigit() or int(rest) > MAX_CHAIN:
            await conn.html(404, b"<html><body>no such chain</body></html>")
        elif int(rest) == 0:
            await conn.html(200, page("results.html"))
        else:
            await conn.redirect(302, f"/redirect-chain/{int(rest) - 1}")

    async def _redirect_offsite(self, request: SeenRequest, conn: _Conn) -> None:
        if self.other_base is None:
            await conn.respond(500, [("Content-Type", "text/plain")], b"HostileServer(other_base=...) not set")
        else:
            await conn.redirect(307, self.other_base + "/stolen")

    async def _redirect_js(self, request: SeenRequest, conn: _Conn) -> None:
        await conn.redirect(302, "javascript:alert(1)")

    async def _redirect_file(self, request: SeenRequest, conn: _Conn) -> None:
        await conn.redirect(302, "file:///etc/passwd")

    async def _redirect_userinfo(self, request: SeenRequest, conn: _Conn) -> None:
        await conn.redirect(302, f"http://user:pw@{HOST}:{self.port}/x")

    # -- rate limits and flaky answers -----------------------------------------------------------------

    async def _429(self, conn: _Conn, retry_after: str) -> None:
        await conn.html(429, b"<html><body><h1>Too Many Requests</h1></body></html>", [("Retry-After", retry_after)])

    async def _429_small(self, request: SeenRequest, conn: _Conn) -> None:
        await self._429(conn, "1")

    async def _429_huge(self, request: SeenRequest, conn: _Conn) -> None:
        await self._429(conn, "3600")

    async def _429_date(self, request: SeenRequest, conn: _Conn) -> None:
        # HTTP dates have whole seconds: rounding now up first keeps the wait at 2-3 s, never under 2.
        await self._429(conn, email.utils.formatdate(math.ceil(time.time()) + 2, usegmt=True))

    async def _503_then_200(self, request: SeenRequest, conn: _Conn) -> None:
        key = request.query.get("key", [""])[0]
        if key in self._seen_keys:
            await conn.html(200, page("results.html"))
        else:
            self._seen_keys.add(key)
            await conn.html(503, b"<html><body><h1>Service Unavailable</h1></body></html>")

    # -- unreadable content ----------------------------------------------------------------------------

    async def _bad_charset(self, request: SeenRequest, conn: _Conn) -> None:
        await conn.respond(200, [("Content-Type", "text/html; charset=x-no-such-charset")], BAD_CHARSET_BODY)

    async def _binary(self, request: SeenRequest, conn: _Conn) -> None:
        await conn.respond(200, [("Content-Type", "application/octet-stream")], BINARY_BODY)

    async def _image(self, request: SeenRequest, conn: _Conn) -> None:
        await conn.respond(200, [("Content-Type", "image/png")], PNG_1X1)


__all__ = [
    "BIG_SIZE",
    "BROTLI_BOMB_SIZE",
    "CANNED",
    "GZIP_BOMB_SIZE",
    "PAGES_DIR",
    "RESET_SIZE",
    "SLOW_SIZE",
    "Canned",
    "CountingServer",
    "HostileServer",
    "SeenRequest",
    "bomb",
    "page",
    "stacked_gzip",
    "zstd_frame",
]
