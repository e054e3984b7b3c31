"""The browser engine (`engine = "browser"` in a rule, `exposure check URL`): pages rendered in Chromium
through Playwright, pinned to their site by a per-site proxy, read by the same analysis as any page.

Playwright is an optional dependency (`pip install 'exposure[browser]'`): nothing here imports it until a
browser page is needed, and without it a browser site ends "could not check" with the reason.
"""

from .engine import (
    BrowserEngine,
    BrowserSettings,
    BrowserSite,
    ChallengeHandler,
    CheckPage,
    SiteBrowser,
    Unavailable,
    check_page_of,
)
from .socks import PinningProxy

__all__ = [
    "BrowserEngine",
    "BrowserSettings",
    "BrowserSite",
    "ChallengeHandler",
    "CheckPage",
    "PinningProxy",
    "SiteBrowser",
    "Unavailable",
    "check_page_of",
]
