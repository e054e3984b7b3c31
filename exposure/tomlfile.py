"""Reading the TOML files users write (profile, rules), with errors that name the file, the key and the line."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from .errors import ConfigError


def read_toml(path: Path, error: type[ConfigError], missing: str = "") -> tuple[str, dict[str, Any]]:
    """The file's text and data; raise `error` saying what is wrong with it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise error(path, "", missing or f"cannot read: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise error(path, "", f"cannot read: {exc}") from exc
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(path, "", f"not valid TOML: {exc}") from exc


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
