"""Test servers that misbehave like the hostile web; see `server` for the routes."""

from .server import CANNED, CountingServer, HostileServer

__all__ = ["CANNED", "CountingServer", "HostileServer"]
