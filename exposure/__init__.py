"""exposure: find where a person's data is published on people-search sites, and how to remove it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("exposure")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
