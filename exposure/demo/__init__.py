"""The bundled demo: synthetic people-search sites on loopback, their rules, and a synthetic person.

`exposure demo` runs a full scan against these sites with no internet; see `server.py`.
"""

from .server import DEMO_PROFILE, DemoWeb, DemoWebThread, render_rules

__all__ = ["DEMO_PROFILE", "DemoWeb", "DemoWebThread", "render_rules"]
