"""Bounded decoding of bodies: content codings and charsets, for the fetcher and for the analysis workers.

Kept apart from `fetch.py` so the analysis processes, which decode the bodies the scan hands them still
compressed, need not import the HTTP client at all (httpx and aiohttp were a third of each worker's memory).
Nothing here trusts the server: a bomb stops at the size cap, a truncated or corrupt body is an error.
"""

from __future__ import annotations

import re
import types
import zlib
from collections.abc import Iterator
from dataclasses import replace
from typing import Protocol, cast

import brotli

from .models import Outcome, Page

_inflate: types.ModuleType = zlib
_INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error,)
try:
    # ISA-L's inflate: 2.5 times zlib's on gzipped results pages (0.09 against 0.22 ms per 93 KB page), and
    # the same streaming interface (max_length, unconsumed_tail, eof)
    from isal import isal_zlib

    _inflate = isal_zlib
    _INFLATE_ERRORS = (zlib.error, cast(type[Exception], isal_zlib.IsalError))  # its stub calls it an instance
except ImportError:  # not installed (a platform without its wheels): zlib does the same work, slower
    pass

STEP = 64 * 1024  # the most any one decoding step may produce
MAX_BODY = 5 * 1024 * 1024  # decoded bytes, unless the caller says otherwise (FetchSettings.max_body)


class Failure(Exception):
    """Why one attempt failed, and whether another attempt could go differently (`retry`)."""

    def __init__(
        self,
        outcome: Outcome,
        detail: str,
        status: int | None = None,
        retry_after: float | None = None,
        retry: bool = False,
        final_url: str = "",
        raw: str = "",
    ):
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail
        self.status = status
        self.retry_after = retry_after
        self.retry = retry
        self.final_url = final_url
        self.raw = raw


# ----------------------------------------------------------------- bounded decoding


class _Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> Iterator[bytes]: ...


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        for i in range(0, len(data), STEP):
            yield data[i : i + STEP]

    def finish(self) -> Iterator[bytes]:
        return iter(())


class _Zlib:
    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._d = _inflate.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not self._started and not self._gzip and data:
            self._started = True
            # "deflate" is meant to be zlib-wrapped, but some servers send raw deflate
            if (data[0] & 0x0F) != 8:
                self._d = _inflate.decompressobj(-zlib.MAX_WBITS)
        try:
            out = self._d.decompress(data, STEP)
            while True:
                if out:
                    yield out
                if not self._d.unconsumed_tail:
                    break
                out = self._d.decompress(self._d.unconsumed_tail, STEP)
        except _INFLATE_ERRORS as exc:
            raise Failure(Outcome.ERROR, f"corrupt compressed body ({exc})") from exc

    def finish(self) -> Iterator[bytes]:
        # output zlib still holds once all input is in, drained in bounded steps like the rest
        try:
            while out := self._d.decompress(b"", STEP):
                yield out
        except _INFLATE_ERRORS as exc:
            raise Failure(Outcome.ERROR, f"corrupt compressed body ({exc})") from exc
        if not self._d.eof:
            # a results page cut short could hide the very listing we look for: never read it as complete
            raise Failure(Outcome.ERROR, "the compressed body ends before its end: a truncated page")


class _Brotli:
    def __init__(self) -> None:
        self._d = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        # The limit is soft (a step can overshoot it by one internal block, about 32 KiB), and brotli 1.2.1's
        # can_accept_more_data() answers True while output is still pending, which silently cut pages short:
        # so drain with empty input until a step yields nothing.
        try:
            out = self._d.process(data, output_buffer_limit=STEP)
            while out:
                yield out
                if self._d.is_finished():
                    break
                out = self._d.process(b"", output_buffer_limit=STEP)
        except brotli.error as exc:
            raise Failure(Outcome.ERROR, f"corrupt brotli body ({exc})") from exc

    def finish(self) -> Iterator[bytes]:
        if not self._d.is_finished():
            raise Failure(Outcome.ERROR, "the brotli body ends before its end: a truncated page")
        return iter(())


def decoders_for(content_encoding: str) -> list[_Decoder]:
    """Decoders in the order to apply them; refuse what we never asked for, or more than two layers."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if len(codings) > 2:
        raise Failure(Outcome.ERROR, f"refused: {len(codings)} stacked content encodings ({content_encoding})")
    out: list[_Decoder] = []
    for c in reversed(codings):  # the last encoding applied is undone first
        if c in ("gzip", "x-gzip"):
            out.append(_Zlib(gzip=True))
        elif c == "deflate":
            out.append(_Zlib(gzip=False))
        elif c == "br":
            out.append(_Brotli())
        else:
            raise Failure(Outcome.ERROR, f"refused: content encoding {c!r} that we did not ask for")
    return out


class BoundedBody:
    """Decodes raw chunks through the decoder chain, failing as soon as the output passes the cap."""

    def __init__(self, content_encoding: str, cap: int) -> None:
        self._chain = decoders_for(content_encoding)
        self._cap = cap
        self._parts: list[bytes] = []
        self.size = 0

    def feed(self, raw: bytes) -> None:
        self._keep(self._through(raw, 0))

    def finish(self) -> None:
        """Drain what the decoders still hold once the whole raw body is in, outermost first."""
        for i, decoder in enumerate(self._chain):
            self._keep(piece for out in decoder.finish() for piece in self._through(out, i + 1))

    def _keep(self, pieces: Iterator[bytes]) -> None:
        for piece in pieces:
            self.size += len(piece)
            if self.size > self._cap:
                raise Failure(Outcome.ERROR, f"page larger than {self._cap // 1024} KiB: not read")
            self._parts.append(piece)

    def _through(self, data: bytes, i: int) -> Iterator[bytes]:
        if i == len(self._chain):
            if data:
                yield data
            return
        for piece in self._chain[i].feed(data):
            yield from self._through(piece, i + 1)

    def value(self) -> bytes:
        return b"".join(self._parts)


# ----------------------------------------------------------------- text


_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_.:-]+)""", re.I)


_NON_ASCII_TEXT = re.compile("[^\x00-\x7f\ufffd]")


def decode_text(body: bytes, content_type: str) -> str:
    """The body as text: the header's charset, else a <meta> one, else UTF-8 or Windows-1252.

    A charset Python does not know, or one that is not a text encoding at all ("base64", "rot13" and
    "zlib" are codecs too, and bytes.decode raises on them), is passed over: a page with a bad charset
    is still read, never a crash. Without a usable charset, a body that is not valid UTF-8 and holds no
    valid UTF-8 sequence at all is read as Windows-1252, the fallback browsers use, so "Zo\xeb" stays a name.
    """
    candidates = []
    m = re.search(r"charset=([^\s;,]+)", content_type, re.I)
    if m:
        candidates.append(m.group(1).strip("\"'"))
    mm = _META_CHARSET.search(body[:4096])
    if mm:
        candidates.append(mm.group(1).decode("ascii", "ignore"))
    for charset in candidates:
        try:
            return body.decode(charset, errors="replace")
        except (LookupError, UnicodeError, ValueError, TypeError):
            continue
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("utf-8", errors="replace")
    if _NON_ASCII_TEXT.search(text):
        return text  # UTF-8 with a few broken bytes
    return body.decode("cp1252", errors="replace")


def decode_page(page: Page, max_body: int = MAX_BODY) -> Page:
    """A page handed over undecoded (`FetchSettings.decode_bodies = False`), decoded with the same bounds as
    the fetcher's own decoding: a bomb stops at `max_body` bytes of output, a truncated or corrupt body is an
    error, never a page read as complete."""
    if not page.encoded or page.failure is not None:
        return page
    try:
        body = BoundedBody("" if page.encoded == "identity" else page.encoded, max_body)
        body.feed(page.body)
        body.finish()
    except Failure as failure:
        return replace(page, body=b"", text="", encoded="", failure=failure.outcome, detail=failure.detail)
    data = body.value()
    return replace(page, body=data, text=decode_text(data, page.headers.get("content-type", "")), encoded="")
