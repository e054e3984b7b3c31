"""Which Chromium the project drives, and the flags it is started with: the browser engine, the evidence
screenshots and the test suite's report tests all use these, so a change (another path, one more flag that
keeps Chromium off the network) is made once.

No browser is ever downloaded: Debian's package (scripts/ensure-chromium.sh installs it), or $EXPOSURE_CHROMIUM.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_CHROMIUM = Path("/usr/bin/chromium")
# Chromium's own background traffic (updates, safe browsing, sync, metrics) does not go through a context's
# proxy: these flags turn it off, so the only connections are the pages' own, and those are pinned (or, for
# evidence screenshots and report tests, there is no network at all).
LAUNCH_ARGS = (
    "--disable-extensions",  # extensions' own requests would not go through a site's proxy
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--no-pings",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
)


def default_chromium() -> Path:
    """Where Chromium is: $EXPOSURE_CHROMIUM, else Debian's /usr/bin/chromium."""
    return Path(os.environ.get("EXPOSURE_CHROMIUM") or DEFAULT_CHROMIUM)
