#!/bin/sh
# Make sure Debian's chromium is at /usr/bin/chromium for the browser tests of the HTML report.
#
# Why Debian's package and not `playwright install`: the tests must not download anything but
# packages from the distribution's registry, and a distro browser gets security updates with the
# rest of the system. The Playwright python package drives it through `executable_path`.
#
# Exits non-zero (and says why) if chromium cannot be installed, so the browser tests fail loudly
# instead of being skipped.
set -eu

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-chromium: $CHROMIUM is missing and we are not root; install it with: apt-get install -y chromium" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: $CHROMIUM is missing and apt-get is not available on this system" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends chromium

if [ ! -x "$CHROMIUM" ]; then
    echo "ensure-chromium: apt-get finished but $CHROMIUM is still missing" >&2
    exit 1
fi
"$CHROMIUM" --version
