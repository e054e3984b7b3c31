"""Reading the TOML files users write (profile, rules), with errors that name the file, the key and the line."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from .errors import ConfigError

# A key of more dotted parts than this is refused before parsing: tomllib's work grows with the square of
# a key's parts (200 KB of `a.a.a...` took minutes), and no file of ours needs more than a handful.
MAX_KEY_PARTS = 64
_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"[^"\\\n]*(?:\\.[^"\\\n]*)*"|'[^'\n]*')"""
# Linear: a run is tried only from its first part (the look-behind), and every part ends unambiguously.
_LONG_KEY = re.compile(rf"""(?<![\w"'.\\-]){_KEY_PART}(?:[ \t]*\.[ \t]*{_KEY_PART}){{{MAX_KEY_PARTS}}}""")


def _read_bounded(path: Path, max_bytes: int) -> str:
    with path.open("rb") as f:  # read at most one byte more than allowed: a special file never ends
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"larger than {max_bytes // 1024} KB: not a file of this kind")
    return data.decode("utf-8")


def read_toml(
    path: Path, error: type[ConfigError], missing: str = "", max_bytes: int = 1024 * 1024
) -> tuple[str, dict[str, Any]]:
    """The file's text and data; raise `error` saying what is wrong with it.

    Bounded, since a file may be hostile: at most `max_bytes`, keys of at most MAX_KEY_PARTS dotted parts,
    and nesting no deeper than the parser can go.
    """
    try:
        text = _read_bounded(path, max_bytes)
    except FileNotFoundError as exc:
        raise error(path, "", missing or f"cannot read: {exc}") from exc
    except IsADirectoryError as exc:
        raise error(path, "", "cannot read: it is a folder, not a file") from exc
    except OSError as exc:
        raise error(path, "", f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise error(path, "", f"cannot read: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except ValueError as exc:
        raise error(path, "", str(exc)) from exc
    long_key = _LONG_KEY.search(text)
    if long_key:
        line = text.count("\n", 0, long_key.start()) + 1
        raise error(path, f"line {line}", f"a key with more than {MAX_KEY_PARTS} dotted parts")
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(path, "", f"not valid TOML: {exc}") from exc
    except RecursionError as exc:
        raise error(path, "", "arrays or inline tables are nested too deeply") from exc


def line_of(text: str, loc: Sequence[int | str]) -> int | None:
    """Best-effort line number of the key a pydantic error location points at.

    Walks the location the way TOML nests it: a table header (`[opt_out]`, the n-th `[[searches]]`), then a
    key after it (`url = ...`, or a key inside an inline table), so `opt_out.url` is not taken for the first
    `url` of the file.
    """
    pos: int = 0
    found: int | None = None
    path: list[str] = []
    for part in loc:
        if isinstance(part, int):
            name = re.escape(".".join(path))
            headers = list(re.finditer(rf"^[ \t]*\[\[[ \t]*{name}[ \t]*\]\]", text, re.M))
            if part < len(headers):
                pos = found = headers[part].start()
            continue
        path.append(part)
        key = re.escape(part)
        for pattern in (
            rf"^[ \t]*\[\[?[ \t]*{re.escape('.'.join(path))}[ \t]*\]\]?",  # its table
            rf"^[ \t]*(?:[\w\"-]+\.)*\"?{key}\"?[ \t]*=",  # a key, or the last part of a dotted key
            rf"[{{,][ \t]*{key}[ \t]*=",  # a key of an inline table
        ):
            m = re.compile(pattern, re.M).search(text, pos)
            if m:
                pos = found = m.start() + (1 if pattern.startswith("[") else 0)
                break
    return None if found is None else text.count("\n", 0, found) + 1


def describe(loc: Sequence[int | str]) -> str:
    """A pydantic location as the user would write it: searches[0].url."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def problems(text: str, exc: ValidationError, noun: str, limit: int = 8) -> list[tuple[str, str]]:
    """(where, what) for each validation error: "line 4: key delay", "Input should be a valid number"."""
    out = []
    for err in exc.errors()[:limit]:
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        line = line_of(text, loc)
        where = f"line {line}: {noun} {describe(loc)}" if line else f"{noun} {describe(loc)}"
        out.append((where, err["msg"].removeprefix("Value error, ")))
    return out


def raise_invalid(path: Path, text: str, exc: ValidationError, error: type[ConfigError], noun: str) -> NoReturn:
    """Raise `error` for the first problem, listing the others in its message."""
    found = problems(text, exc, noun)
    where, what = found[0]
    more = "".join(f"\n  also {w}: {m}" for w, m in found[1:])
    if len(exc.errors()) > len(found):
        more += f"\n  and {len(exc.errors()) - len(found)} more problem(s)"
    raise error(path, where, what + more) from exc
