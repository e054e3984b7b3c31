"""Changing the user's profile in place, keeping it as they wrote it.

The profile is the user's file: their comments, the order of their keys, their layout and any key they
added stay as they are. tomlkit edits the document itself rather than a dump of its data, so only the
`not_me` array changes. The file is validated before and after the edit, and written privately.
"""

from __future__ import annotations

from pathlib import Path

import tomlkit
import tomlkit.exceptions
from pydantic import ValidationError

from .errors import ProfileError
from .files import write_private
from .profile import MAX_PROFILE_BYTES, ProfileFile, load_profile
from .tomlfile import raise_invalid, read_toml


class ProfileEditError(Exception):
    """The profile cannot be edited in place (its `not_me` is not a plain array of strings)."""


def _document(path: Path) -> tuple[str, tomlkit.TOMLDocument]:
    load_profile(path)  # the usual checks and messages first
    text, _ = read_toml(path, ProfileError, max_bytes=MAX_PROFILE_BYTES)
    try:
        return text, tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:  # tomllib read it, tomlkit did not
        raise ProfileEditError(f"cannot be edited in place: {exc}") from exc


def list_not_me(path: Path) -> list[str]:
    """The listing URLs the user has marked as someone else, in the profile's order."""
    _, doc = _document(path)
    return [str(v) for v in doc.get("not_me", [])]


def set_not_me(path: Path, url: str, present: bool) -> bool:
    """Add (`present`) or remove `url` in the profile's `not_me`; return whether the file changed."""
    _, doc = _document(path)
    current = doc.get("not_me")
    if current is None:
        if not present:
            return False
        array = tomlkit.array()
        array.append(url)
        doc.add("not_me", array)
    else:
        if not isinstance(current, list):
            raise ProfileEditError("not_me is not a list of URLs")
        values = [str(v) for v in current]
        if present == (url in values):
            return False
        if present:
            current.append(url)
        else:
            for i in reversed(range(len(values))):
                if values[i] == url:
                    del current[i]
    new_text = tomlkit.dumps(doc)
    try:  # never write a profile the next scan would refuse
        ProfileFile.model_validate(tomlkit.parse(new_text).unwrap())
    except ValidationError as exc:
        raise_invalid(path, new_text, exc, ProfileError, "field")
    write_private(path, new_text)
    return True
