"""Self-tests of the hostile test servers: each scenario is served byte for byte as `tests/hostile` says.

These read responses raw (http.client never decodes Content-Encoding; sockets for what http.client cannot
see), and never decode a bomb whole: inflation runs in bounded steps that only count bytes.
"""

from __future__ import annotations

import email.utils
import gzip
import http.client
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator

import brotli
import httpx
import pytest
from hostile.server import (
    BIG_SIZE,
    BROTLI_BOMB_SIZE,
    CANNED,
    GZIP_BOMB_SIZE,
    RESET_SIZE,
    SLOW_SIZE,
    CountingServer,
    HostileServer,
    page,
)

STEP = 1024 * 1024


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[HostileServer, CountingServer]]:
    with CountingServer() as other, HostileServer(other_base=other.base) as hostile:
        yield hostile, other


@pytest.fixture
def hostile(servers: tuple[HostileServer, CountingServer]) -> HostileServer:
    return servers[0]


def get(server: HostileServer | CountingServer, path: str) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One GET, body undecoded."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": "identity"})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def send(server: HostileServer, path: str, timeout: float = 5) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return sock


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read up to the end of the response head; returns (head, body bytes already received)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"connection closed inside the head: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def wait_released(server: HostileServer, timeout: float = 3.0) -> None:
    """The server noticed the client leaving and stopped serving it."""
    deadline = time.monotonic() + timeout
    while server.open_connections and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.open_connections == 0


def inflated_size(data: bytes, make: Callable[[], zlib._Decompress], limit: int) -> int:
    """Count what `data` inflates to, holding at most STEP bytes of output at a time; stop past `limit`."""
    d = make()
    total = len(d.decompress(data, STEP))
    while d.unconsumed_tail and total <= limit:
        total += len(d.decompress(d.unconsumed_tail, STEP))
    assert d.eof, "the stream did not end"
    return total


# -- decompression bombs --------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "coding", "wbits"), [("/gzip-bomb", "gzip", 31), ("/deflate-bomb", "deflate", 15)])
def test_zlib_bombs_are_small_and_inflate_a_thousandfold(hostile: HostileServer, path: str, coding: str, wbits: int):
    status, headers, body = get(hostile, path)
    assert status == 200
    assert headers["Content-Encoding"] == coding
    assert int(headers["Content-Length"]) == len(body)
    assert 100_000 < len(body) < 300_000
    size = inflated_size(body, lambda: zlib.decompressobj(wbits), limit=GZIP_BOMB_SIZE + STEP)
    assert size == GZIP_BOMB_SIZE == 200 * 1024 * 1024
    assert size / len(body) > 900


def test_brotli_bomb_is_a_few_hundred_bytes_for_256_mib(hostile: HostileServer):
    status, headers, body = get(hostile, "/brotli-bomb")
    assert (status, headers["Content-Encoding"]) == (200, "br")
    assert len(body) < 1000
    d = brotli.Decompressor()
    total = len(d.process(body, output_buffer_limit=STEP))
    while not d.is_finished() and total <= BROTLI_BOMB_SIZE:
        total += len(d.process(b"", output_buffer_limit=STEP))
    assert total == BROTLI_BOMB_SIZE == 256 * 1024 * 1024


def test_stacked_encoding_is_really_four_layers_of_gzip(hostile: HostileServer):
    status, headers, body = get(hostile, "/stacked-encoding")
    assert status == 200
    assert [c.strip() for c in headers["Content-Encoding"].split(",")] == ["gzip"] * 4
    for _ in range(4):
        assert body[:2] == b"\x1f\x8b"
        body = gzip.decompress(body)
    assert body == page("results.html")


def test_unasked_encoding_is_a_valid_zstd_frame(hostile: HostileServer):
    status, headers, body = get(hostile, "/unasked-encoding")
    assert (status, headers["Content-Encoding"]) == (200, "zstd")
    # Walk the frame by hand (zstandard is not a dependency): magic, descriptor, content size, one raw block.
    assert body[:4] == b"\x28\xb5\x2f\xfd"
    assert body[4] == 0xA0
    (content_size,) = struct.unpack("<I", body[5:9])
    block = int.from_bytes(body[9:12], "little")
    assert (block & 1, (block >> 1) & 3, block >> 3) == (1, 0, content_size)
    assert body[12:] == page("results.html")
    with pytest.raises(ImportError):  # if zstandard ever arrives, decode with it here instead
        import zstandard  # noqa: F401

    status, headers, body = get(hostile, "/unasked-encoding?enc=br-x")
    assert (status, headers["Content-Encoding"]) == (200, "br-x")
    assert b"<html" not in body


# -- size and time --------------------------------------------------------------------------------------


def test_big_serves_50_mib_with_content_length(hostile: HostileServer):
    conn = http.client.HTTPConnection("127.0.0.1", hostile.port, timeout=5)
    conn.request("GET", "/big")
    response = conn.getresponse()
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert int(response.headers["Content-Length"]) == BIG_SIZE == 50 * 1024 * 1024
    total = 0
    first = response.read(64)
    total += len(first)
    while chunk := response.read(STEP):
        total += len(chunk)
    conn.close()
    assert first.startswith(b"<!doctype html>")
    assert total == BIG_SIZE


def test_big_stops_streaming_when_the_client_leaves():
    with HostileServer() as hostile:
        sock = send(hostile, "/big")
        _, got = read_head(sock)
        while len(got) < STEP:
            got += sock.recv(65536)
        sock.close()
        wait_released(hostile)


def test_slow_drips_one_byte_per_second():
    with HostileServer() as hostile:
        sock = send(hostile, "/slow")
        head, body = read_head(sock)
        start = time.monotonic()
        assert b"Content-Length: 10000" in head
        assert body == b""
        body = sock.recv(100)
        waited = time.monotonic() - start
        assert len(body) == 1
        assert 0.7 < waited < 2.0
        sock.close()
        wait_released(hostile)


def test_slow_interval_can_be_shortened_for_tests():
    with HostileServer() as hostile:
        sock = send(hostile, "/slow?interval=0.05")
        head, body = read_head(sock)
        assert f"Content-Length: {SLOW_SIZE}".encode() in head
        start = time.monotonic()
        while len(body) < 5:
            chunk = sock.recv(100)
            assert len(chunk) <= 2, "bytes must come one at a time"
            body += chunk
        assert time.monotonic() - start >= 0.15
        assert page("results.html").startswith(body)
        sock.close()
        wait_released(hostile)


def test_hang_sends_headers_then_nothing():
    with HostileServer() as hostile:
        sock = send(hostile, "/hang")
        head, body = read_head(sock)
        assert head.startswith(b"HTTP/1.1 200 OK")
        assert b"Content-Length: 5000" in head
        assert body == b""
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(100)
        sock.close()
        wait_released(hostile)


def test_no_headers_hang_reads_the_request_and_never_answers():
    with HostileServer() as hostile:
        sock = send(hostile, "/no-headers-hang")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(100)
        assert hostile.hits["/no-headers-hang"] == 1
        sock.close()
        wait_released(hostile)


@pytest.mark.parametrize("path", ["/hang", "/no-headers-hang", "/slow"])
def test_every_hold_is_bounded(path: str):
    with HostileServer(hold_seconds=0.3) as hostile:
        sock = send(hostile, path, timeout=3)
        start = time.monotonic()
        data = b""
        while chunk := sock.recv(4096):  # the server gives up and closes: EOF, not our timeout
            data += chunk
        assert time.monotonic() - start < 2
        sock.close()


def test_reset_sends_half_the_body_then_a_tcp_reset(hostile: HostileServer):
    sock = send(hostile, "/reset")
    head, body = read_head(sock)
    assert f"Content-Length: {RESET_SIZE}".encode() in head
    with pytest.raises(ConnectionResetError):
        while chunk := sock.recv(65536):
            body += chunk
    sock.close()
    assert len(body) == RESET_SIZE // 2


# -- redirects ------------------------------------------------------------------------------------------


def test_redirect_loop_points_at_itself_for_ever():
    with HostileServer() as hostile:
        status, headers, _ = get(hostile, "/redirect-loop")
        assert (status, headers["Location"]) == (302, "/redirect-loop?n=1")
        status, headers, _ = get(hostile, "/redirect-loop?n=1")
        assert (status, headers["Location"]) == (302, "/redirect-loop?n=2")
        with httpx.Client(follow_redirects=True, max_redirects=5) as client, pytest.raises(httpx.TooManyRedirects):
            client.get(hostile.base + "/redirect-loop")
        assert hostile.hits["/redirect-loop"] == 2 + 6


def test_redirect_chain_ends_in_results(hostile: HostileServer):
    with httpx.Client(follow_redirects=True) as client:
        response = client.get(hostile.base + "/redirect-chain/3")
    assert [r.status_code for r in response.history] == [302, 302, 302]
    assert response.status_code == 200
    assert response.url.path == "/redirect-chain/0"
    assert response.content.count(b'class="card"') == 3
    assert get(hostile, "/redirect-chain/x")[0] == 404


def test_redirect_307_offsite_points_at_the_other_server(servers: tuple[HostileServer, CountingServer]):
    hostile, other = servers
    before = other.count
    status, headers, _ = get(hostile, "/redirect-307-offsite")
    assert (status, headers["Location"]) == (307, other.base + "/stolen")
    assert other.count == before  # the redirect alone reaches nobody
    with HostileServer() as alone:
        assert get(alone, "/redirect-307-offsite")[0] == 500


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/redirect-js", "javascript:alert(1)"),
        ("/redirect-file", "file:///etc/passwd"),
        ("/redirect-userinfo", "http://user:pw@127.0.0.1:{port}/x"),
    ],
)
def test_redirects_to_forbidden_places(hostile: HostileServer, path: str, location: str):
    status, headers, _ = get(hostile, path)
    assert status == 302
    assert headers["Location"] == location.format(port=hostile.port)


# -- block pages and pages that only look like them -----------------------------------------------------

# What a detector can key on, written out here independently of server.CANNED: (status, headers, markers).
BLOCKS: dict[str, tuple[int, dict[str, str], tuple[bytes, ...]]] = {
    "/block/cloudflare": (
        403,
        {"cf-mitigated": "challenge", "server": "cloudflare"},
        (b"<title>Just a moment...</title>", b"/cdn-cgi/challenge-platform/", b"_cf_chl_opt"),
    ),
    "/block/cloudflare-attention": (
        403,
        {"server": "cloudflare"},
        (b"<title>Attention Required! | Cloudflare</title>", b"cf-error-details", b"Cloudflare Ray ID"),
    ),
    "/block/perimeterx": (403, {}, (b'<div id="px-captcha">', b"Press & Hold", b"_pxAppId")),
    "/block/datadome": (403, {"x-datadome": "protected"}, (b"captcha-delivery.com",)),
    "/block/akamai": (403, {"server": "AkamaiGHost"}, (b"<TITLE>Access Denied</TITLE>", b"Reference #18.")),
    "/block/akamai-escaped": (
        403,
        {"server": "AkamaiGHost"},
        (b"<TITLE>Access Denied</TITLE>", b"Reference&#32;&#35;18&#46;", b"errors&#46;edgesuite&#46;net"),
    ),
    "/block/imperva": (200, {"x-cdn": "Imperva"}, (b"Incapsula incident ID", b"_Incapsula_Resource")),
    "/block/ddos-guard": (403, {"server": "ddos-guard"}, (b"<title>DDoS-Guard</title>", b"/.well-known/ddos-guard/")),
    "/block/aws-waf": (403, {"x-amzn-waf-action": "captcha"}, (b"gokuProps", b"captcha.awswaf.com")),
    "/block/hcaptcha": (200, {}, (b'class="h-captcha"', b"js.hcaptcha.com/1/api.js")),
    "/block/recaptcha": (200, {}, (b'class="g-recaptcha"', b"www.google.com/recaptcha/api.js")),
    "/block/turnstile": (200, {}, (b'class="cf-turnstile"', b"challenges.cloudflare.com/turnstile/v0/api.js")),
}


@pytest.mark.parametrize("path", sorted(BLOCKS))
def test_block_pages_carry_their_markers(hostile: HostileServer, path: str):
    want_status, want_headers, markers = BLOCKS[path]
    status, headers, body = get(hostile, path)
    assert status == want_status
    for name, value in want_headers.items():
        assert headers[name] == value
    for marker in markers:
        assert marker in body
    assert b'class="card"' not in body  # nothing that could pass for a listing
    assert b'id="results"' not in body
    assert CANNED[path].blocked


def test_akamai_escaped_reference_shows_only_after_entity_decoding(hostile: HostileServer):
    import html

    body = get(hostile, "/block/akamai-escaped")[2].decode()
    assert "Reference #18." not in body
    assert "Reference #18.2f0b1b17" in html.unescape(body)


def test_every_block_route_is_tested():
    assert {path for path, canned in CANNED.items() if canned.blocked} == set(BLOCKS)


@pytest.mark.parametrize("path", ["/ok", "/results-with-access-denied-script", "/results-behind-cloudflare"])
def test_results_pages_have_listings(hostile: HostileServer, path: str):
    status, headers, body = get(hostile, path)
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert body.count(b'<div class="card"') >= 2
    assert b'id="results"' in body
    assert not CANNED[path].blocked


def test_access_denied_appears_only_in_script_and_form(hostile: HostileServer):
    body = get(hostile, "/results-with-access-denied-script")[2].decode()
    script = body[body.index("<script>") : body.index("</script>")]
    form = body[body.index("<form") : body.index("</form>")]
    total = body.count("Access Denied")
    assert "Access Denied" in script
    assert "Access Denied" in form
    assert total == script.count("Access Denied") + form.count("Access Denied")


def test_results_behind_cloudflare_carry_the_harmless_cloudflare_markers(hostile: HostileServer):
    _, headers, body = get(hostile, "/results-behind-cloudflare")
    assert headers["Server"] == "cloudflare"
    assert "cf-mitigated" not in headers
    assert b"/cdn-cgi/challenge-platform/scripts/jsd/main.js" in body
    assert b"/cdn-cgi/l/email-protection" in body


# -- rate limits and flaky answers ----------------------------------------------------------------------


@pytest.mark.parametrize(("path", "retry_after"), [("/429-small", "1"), ("/429-huge", "3600")])
def test_429_with_retry_after_seconds(hostile: HostileServer, path: str, retry_after: str):
    status, headers, _ = get(hostile, path)
    assert (status, headers["Retry-After"]) == (429, retry_after)


def test_429_with_retry_after_date(hostile: HostileServer):
    status, headers, _ = get(hostile, "/429-date")
    assert status == 429
    ahead = email.utils.parsedate_to_datetime(headers["Retry-After"]).timestamp() - time.time()
    assert 1.0 < ahead <= 3.0


def test_503_then_200_per_key(hostile: HostileServer):
    assert get(hostile, "/503-then-200?key=a")[0] == 503
    status, _, body = get(hostile, "/503-then-200?key=a")
    assert status == 200
    assert body.count(b'class="card"') == 3
    assert get(hostile, "/503-then-200?key=a")[0] == 200
    assert get(hostile, "/503-then-200?key=b")[0] == 503


# -- content the classifier cannot read -----------------------------------------------------------------


def test_bad_charset(hostile: HostileServer):
    import codecs

    status, headers, body = get(hostile, "/bad-charset")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=x-no-such-charset"
    with pytest.raises(LookupError):
        codecs.lookup("x-no-such-charset")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")


def test_binary_and_image(hostile: HostileServer):
    status, headers, body = get(hostile, "/binary")
    assert (status, headers["Content-Type"]) == (200, "application/octet-stream")
    assert b"\x00" in body
    status, headers, body = get(hostile, "/image")
    assert (status, headers["Content-Type"]) == (200, "image/png")
    assert body.startswith(b"\x89PNG\r\n\x1a\n")
    assert body.endswith(b"IEND\xaeB`\x82")


# -- the machinery --------------------------------------------------------------------------------------


def test_counting_server_counts_and_the_hostile_one_records_hits():
    with CountingServer() as other, HostileServer(other_base=other.base) as hostile:
        assert get(other, "/stolen")[::2] == (200, b"ok")
        assert get(other, "/anything")[::2] == (200, b"ok")
        assert other.count == 2
        get(hostile, "/ok")
        get(hostile, "/ok?x=1")
        get(hostile, "/nowhere")
        assert hostile.hits == {"/ok": 2, "/nowhere": 1}
        assert hostile.requests[1].target == "/ok?x=1"
        assert hostile.requests[1].headers["accept-encoding"] == "identity"
        assert get(hostile, "/nowhere")[0] == 404


def test_shutdown_is_quick_with_connections_still_open():
    threads_before = set(threading.enumerate())
    hostile = HostileServer()
    with hostile:
        socks = [send(hostile, p) for p in ("/hang", "/no-headers-hang", "/slow", "/big")]
        socks.append(socket.create_connection(("127.0.0.1", hostile.port)))  # connected, silent
        deadline = time.monotonic() + 2
        while hostile.open_connections < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert hostile.open_connections == 5
        start = time.monotonic()
    assert time.monotonic() - start < 2
    assert set(threading.enumerate()) <= threads_before  # the server's thread is gone
    for sock in socks:
        sock.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", hostile.port), timeout=1)


@pytest.mark.anyio
async def test_usable_from_async_tests_through_the_aiohttp_transport(hostile: HostileServer):
    from httpx_aiohttp import AiohttpTransport

    async with httpx.AsyncClient(transport=AiohttpTransport(), follow_redirects=True) as client:
        ok = await client.get(hostile.base + "/redirect-chain/2")
        blocked = await client.get(hostile.base + "/block/cloudflare")
    assert ok.status_code == 200
    assert ok.text.count('class="card"') == 3
    assert blocked.status_code == 403
    assert blocked.headers["cf-mitigated"] == "challenge"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
