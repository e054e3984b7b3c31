"""Private files: everything holding the user's data is written 0600, in folders this tool made 0700.

Why it is done this way:
- A folder the user already had is theirs: `--out .` or `--out /tmp` must not change its mode, so only
  the folders we create are made (0700, one level at a time); an existing folder that other users can
  read is left alone and reported, since they can see the names of the files in it.
- A file is born private: it is created 0600 under a random temporary name with
  O_CREAT|O_EXCL|O_NOFOLLOW (so a symlink or file planted at that name is never followed or reused),
  written in full, synced, then renamed over the final name. A rename replaces whatever is at the final
  name, a symlink included, without following it, so nothing outside the folder is ever written.
- A run killed between the two steps leaves a temporary file behind; the next write into that folder
  removes the ones whose writer is gone.

Errors are `OSError`s as the system raised them; `describe_os_error` turns one into plain words.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
import time
from pathlib import Path

# ".<name>.<pid>-<random>.tmp": the pid says whether the writer may still be running.
_TMP = re.compile(r"^\..+\.(\d+)-[0-9a-f]{16}\.tmp$")
STALE_AFTER = 24 * 3600.0  # seconds: a temporary file this old is left over whoever wrote it
_cleaned: set[str] = set()  # folders already cleaned by this process


def _create_folder(folder: Path) -> list[Path]:
    """Create `folder` and any missing parents, each 0700; return the folders created, outermost first."""
    missing: list[Path] = []
    current = folder
    while not current.exists() and not current.is_symlink():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    created = []
    for level in reversed(missing):
        try:
            os.mkdir(level, 0o700)  # the umask can only take bits away from 0700
        except FileExistsError:
            pass  # made meanwhile by someone else: theirs, so left as it is
        else:
            created.append(level)
    return created


def shared_folder_warning(folder: Path) -> str:
    """A sentence when other users can list `folder` (so see the names of the reports in it), else ""."""
    try:
        mode = folder.stat().st_mode
    except OSError:
        return ""
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return ""
    who = "every user of this computer" if mode & stat.S_IROTH else "other users in its group"
    return (
        f"{folder} can be listed by {who}: they can see the names of the files written there "
        "(the files themselves are readable only by you)"
    )


def private_folder(folder: Path) -> tuple[list[Path], str]:
    """Make sure `folder` exists for private files: (folders created 0700, warning about the existing one).

    An existing folder is never changed. Raises OSError (NotADirectoryError for a file in the way).
    """
    created = _create_folder(folder)
    if not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "it is a file, not a folder", str(folder))
    return created, "" if created else shared_folder_warning(folder)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process: assume it is writing
    return True


def clean_leftovers(folder: Path, now: float | None = None) -> list[Path]:
    """Remove our temporary files that a killed run left in `folder`; return what was removed.

    A temporary file is left over when the process named in it is gone, or when it is older than a day
    (the pid may have been reused). Only regular files of ours, matching our naming, are touched.
    """
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        m = _TMP.match(entry.name)
        if not m:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
                continue
            if _alive(int(m.group(1))) and now - info.st_mtime < STALE_AFTER:
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


def _temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(8)}.tmp")


def write_private(path: Path, content: str | bytes) -> None:
    """Write a file 0600 from its first byte, in a folder made 0700 if it was missing.

    Raises OSError (with the path) when the folder cannot be made or the file cannot be written; a
    partly written temporary file is removed.
    """
    folder = path.parent
    _create_folder(folder)
    key = str(folder.resolve()) if folder.exists() else str(folder)
    if key not in _cleaned:
        _cleaned.add(key)
        clean_leftovers(folder)
    data = content.encode("utf-8") if isinstance(content, str) else content
    tmp = _temporary_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


_CAUSES = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "your disk quota is used up",
    errno.EFBIG: "the file is too large for this disk (or a size limit is set)",
    errno.EACCES: "permission denied",
    errno.EPERM: "the operation is not permitted",
    errno.EROFS: "the disk is read-only",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder",
    errno.ENOENT: "a folder on the way does not exist",
    errno.ELOOP: "it is a symbolic link (or there are too many links on the way)",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EEXIST: "something is in the way",
}


def describe_os_error(exc: OSError) -> str:
    """An OSError in plain words: "permission denied", "the disk is full"; the system's text otherwise."""
    if exc.errno in _CAUSES:
        cause = _CAUSES[exc.errno]
        if exc.errno == errno.ENOTDIR and exc.strerror and "not a folder" in exc.strerror:
            cause = exc.strerror
        return cause
    return exc.strerror or str(exc)
