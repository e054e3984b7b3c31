"""A real HTTP server on 127.0.0.1 for tests, run in a background thread with its own event loop.

Routes map a path to a handler (a coroutine taking the aiohttp request) or to a canned answer.
Every request is recorded, so tests can assert what the scanner did and did not ask for.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Canned:
    body: str | bytes = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html"

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        body = self.body.encode() if isinstance(self.body, str) else self.body
        headers = {"Content-Type": f"{self.content_type}; charset=utf-8", **self.headers}
        return web.Response(body=body, status=self.status, headers=headers)


class LocalServer:
    """`with LocalServer(routes) as s:` serves on s.base; s.requests lists (method, path_qs, headers)."""

    def __init__(self, routes: dict[str, Handler | Canned] | None = None, fallback: Handler | None = None) -> None:
        self.routes: dict[str, Handler | Canned] = dict(routes or {})
        self.fallback = fallback
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.base = ""
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs, dict(request.headers)))
        handler = self.routes.get(request.path_qs) or self.routes.get(request.path) or self.fallback
        if handler is None:
            return web.Response(status=404, text="no such fixture route")
        return await handler(request)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        self.port = server.sockets[0].getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LocalServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            except TimeoutError:  # a handler still sleeping on purpose: the loop is stopped below anyway
                pass

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel_all(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    @property
    def paths(self) -> list[str]:
        return [p for _, p, _ in self.requests]
