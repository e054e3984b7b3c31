"""The exception tree.

Only configuration errors raise; a site failing is a status (see `models.Outcome`), never an exception.

    ExposureError
    └── ConfigError            bad input the user can fix: it names the file and the field or line
        ├── ProfileError       the profile TOML
        ├── RuleError          a rule TOML
        ├── HistoryError       the history database, or a scan asked of it that is not there
        └── EvidenceError      an evidence zip that cannot be read
"""

from __future__ import annotations

from pathlib import Path


class ExposureError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(ExposureError):
    """Input the user can fix; the message says where (file, field or line) and what is wrong."""

    def __init__(self, path: Path | str, where: str, problem: str) -> None:
        self.path = str(path)
        self.where = where
        self.problem = problem
        location = f"{self.path}: {where}" if where else self.path
        super().__init__(f"{location}: {problem}")


class ProfileError(ConfigError):
    """The profile file is unreadable or invalid."""


class RuleError(ConfigError):
    """A rule file is unreadable or invalid."""


class HistoryError(ConfigError):
    """The history database cannot be used (not a database, from a later version) or has no such scan."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(path, "", problem)


class EvidenceError(ConfigError):
    """An evidence zip that cannot be read, or evidence that cannot be exported."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(path, "", problem)
