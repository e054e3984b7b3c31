"""The network pin of one site's browser context: a SOCKS5 proxy on 127.0.0.1 that connects only to the
rule's own site and its declared asset hosts.

Why a proxy and not Playwright's request routing: routing sees most requests, but not all of them. On
Chromium it does not see the hops of a redirect, the favicon request, `<link rel=preconnect>` and a few
more (measured while this engine was written: a redirect to another host and that host's favicon were
requested with a catch-all route in place). Every connection Chromium opens, for any of these, goes
through the context's proxy, so the pin is enforced at the one place nothing can go around. Chromium
sends SOCKS5 requests with the host *name*, so a refused host is not even looked up in DNS.

What is refused is counted per "host:port"; what could not be reached is remembered in plain words, so the
browser fetcher can say why a page failed. Only CONNECT is served; BIND and UDP ASSOCIATE are refused (and
WebRTC is kept off non-proxied UDP by a launch flag, see engine.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import struct
from collections import Counter
from collections.abc import Callable, Mapping

HANDSHAKE_SECONDS = 10.0  # a client that does not finish the SOCKS greeting in this long is dropped
CHUNK = 64 * 1024

# SOCKS5 reply codes (RFC 1928, section 6)
_OK, _NOT_ALLOWED, _UNREACHABLE, _REFUSED, _NO_COMMAND, _NO_ADDRESS_TYPE = 0, 2, 4, 5, 7, 8


def host_port(host: str, port: int) -> str:
    """How a destination is named in counts and messages ("tracker.example:443", "[::1]:80")."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class PinningProxy:
    """A SOCKS5 proxy for one browser context. `allowed(host, port)` decides every connection."""

    def __init__(
        self,
        allowed: Callable[[str, int], bool],
        connect_to: Mapping[str, str] | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        self._allowed = allowed
        self._routes = {h.lower(): to for h, to in (connect_to or {}).items()}
        self._connect_timeout = connect_timeout
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.refused: Counter[str] = Counter()  # "host:port" -> connection attempts refused
        self.unreachable: dict[str, str] = {}  # "host:port" -> why it could not be reached, in plain words
        self.bytes_in = 0  # bytes received from the sites, all connections together
        self.port = 0

    async def start(self) -> int:
        """Listen on 127.0.0.1 on a free port; returns the port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        """Stop listening and cut every open connection."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(HANDSHAKE_SECONDS):
                target = await self._handshake(reader, writer)
            if target is None:
                return
            host, port = target
            upstream_reader, upstream = await self._connect(host, port, writer)
            if upstream is None or upstream_reader is None:
                return
            self._writers.add(upstream)
            await self._relay(reader, writer, upstream_reader, upstream)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            pass  # a client that went away or spoke something else: nothing to report
        finally:
            for w in (writer, upstream):
                if w is not None:
                    self._writers.discard(w)
                    w.close()

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[str, int] | None:
        version, n_methods = await reader.readexactly(2)
        methods = await reader.readexactly(n_methods)
        if version != 5 or 0 not in methods:  # SOCKS5 without authentication only
            writer.write(b"\x05\xff")
            return None
        writer.write(b"\x05\x00")
        await writer.drain()
        _version, command, _reserved, address_type = await reader.readexactly(4)
        if address_type == 1:
            host = socket.inet_ntop(socket.AF_INET, await reader.readexactly(4))
        elif address_type == 3:
            length = (await reader.readexactly(1))[0]
            host = (await reader.readexactly(length)).decode("idna").lower().rstrip(".")
        elif address_type == 4:
            host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
        else:
            await self._reply(writer, _NO_ADDRESS_TYPE)
            return None
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        if command != 1 or not self._allowed(host, port):
            self.refused[host_port(host, port)] += 1
            await self._reply(writer, _NOT_ALLOWED if command == 1 else _NO_COMMAND)
            return None
        return host, port

    async def _connect(
        self, host: str, port: int, writer: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader | None, asyncio.StreamWriter | None]:
        name = host_port(host, port)
        to_host, to_port = host, port
        routed = self._routes.get(host)
        if routed is not None:  # FetchSettings.connect_to: a test or demo server stands in for this host
            to_host, _, routed_port = routed.rpartition(":")
            to_port = int(routed_port)
        try:
            async with asyncio.timeout(self._connect_timeout):
                upstream_reader, upstream = await asyncio.open_connection(to_host, to_port)
        except socket.gaierror:
            self.unreachable[name] = "the site's address could not be found (DNS)"
            await self._reply(writer, _UNREACHABLE)
            return None, None
        except ConnectionRefusedError:
            self.unreachable[name] = "the connection was refused"
            await self._reply(writer, _REFUSED)
            return None, None
        except TimeoutError:
            self.unreachable[name] = "the site did not answer in time"
            await self._reply(writer, _UNREACHABLE)
            return None, None
        except OSError as exc:
            self.unreachable[name] = f"the connection failed ({exc.strerror or type(exc).__name__})"
            await self._reply(writer, _UNREACHABLE)
            return None, None
        await self._reply(writer, _OK)
        return upstream_reader, upstream

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, code: int) -> None:
        writer.write(bytes((5, code, 0, 1)) + ipaddress.IPv4Address("0.0.0.0").packed + b"\x00\x00")
        with contextlib.suppress(OSError):
            await writer.drain()

    async def _relay(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream_reader: asyncio.StreamReader,
        upstream: asyncio.StreamWriter,
    ) -> None:
        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, inbound: bool) -> None:
            while data := await src.read(CHUNK):
                if inbound:
                    self.bytes_in += len(data)
                dst.write(data)
                await dst.drain()

        tasks = {
            asyncio.ensure_future(pipe(reader, upstream, False)),
            asyncio.ensure_future(pipe(upstream_reader, writer, True)),
        }
        try:
            # when either side is done, the connection is: close both (browsers do not half-close)
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
