"""Shared fixtures: the synthetic profile, and a scan helper that runs the real pipeline."""

from __future__ import annotations

import asyncio
import sys
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

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True, scope="session")
def _own_user_folders(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never write to the real user's data or config folders: HOME and the XDG folders are the suite's."""
    import os

    home = tmp_path_factory.mktemp("home")
    os.environ.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
    )


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
