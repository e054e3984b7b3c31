"""Shared fixtures: the synthetic profile, and a scan helper that runs the real pipeline.

Before anything else, the whole suite gets a HOME and XDG folders of its own (removed at exit), so no test,
nor any process a test starts, writes into the real user's config, data, state or cache folders.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests import their helpers (servers, hostile, ...) by name

from exposure.fetch import FetchSettings
from exposure.models import ScanResult
from exposure.pipeline import ScanOptions, scan
from exposure.profile import Profile, load_profile
from exposure.rules import Rule

# Nothing imported above reads these at import time: platformdirs asks the environment at each call.
# The real user's folders, as they were before the suite replaced them (tests/test_isolation.py checks them).
REAL_ENV = {
    k: os.environ.get(k) for k in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")
}
TEST_HOME = Path(tempfile.mkdtemp(prefix="exposure-test-home-"))
atexit.register(shutil.rmtree, TEST_HOME, True)
os.environ["HOME"] = str(TEST_HOME)
for _var, _sub in (
    ("XDG_CONFIG_HOME", ".config"),
    ("XDG_DATA_HOME", ".local/share"),
    ("XDG_STATE_HOME", ".local/state"),
    ("XDG_CACHE_HOME", ".cache"),
):
    os.environ[_var] = str(TEST_HOME / _sub)

FIXTURES = Path(__file__).parent / "fixtures"


TODAY = date(2026, 11, 21)  # fixture pages show ages as of this day


@pytest.fixture(scope="session")
def profile() -> Profile:
    return load_profile(FIXTURES / "profiles" / "default.toml")


def fast_options(**fetch: object) -> ScanOptions:
    """Test settings: no politeness delay, short deadlines, quick retries."""
    settings = {"timeout": 5.0, "retries": 1, "backoff": 0.05, **fetch}
    return ScanOptions(fetch=FetchSettings(**settings), delay_scale=0.0, site_deadline=30.0, today=TODAY)  # type: ignore[arg-type]


def run_scan(profile: Profile, rules: Sequence[Rule], options: ScanOptions | None = None) -> ScanResult:
    return asyncio.run(scan(profile, rules, options or fast_options()))
