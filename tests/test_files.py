"""Private files on a real file system: folders we make are 0700, folders the user had are left alone,
files are 0600 from their first byte, symlinks planted at either name are never followed, and what a
killed run left behind is cleaned up."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from exposure.files import clean_leftovers, describe_os_error, private_folder, write_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_missing_folders_are_made_0700_level_by_level(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c" / "report.html"
    write_private(target, "x")
    assert [mode(tmp_path / p) for p in ("a", "a/b", "a/b/c")] == [0o700, 0o700, 0o700]
    assert mode(target) == 0o600 and target.read_text() == "x"


@pytest.mark.parametrize("existing", [0o755, 0o775, 0o1777, 0o711])
def test_an_existing_folder_keeps_its_mode(tmp_path: Path, existing: int) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(existing)
    write_private(shared / "report.json", "{}")
    created, warning = private_folder(shared)
    assert mode(shared) == existing and not created
    assert mode(shared / "report.json") == 0o600
    if existing & 0o044:
        assert str(shared) in warning and "names of the files" in warning
    else:
        assert warning == ""


def test_out_through_a_symlink_to_a_shared_folder_changes_nothing(tmp_path: Path) -> None:
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    link = tmp_path / "out"
    link.symlink_to(sticky)
    write_private(link / "r.md", "# r")
    assert mode(sticky) == 0o1777 and mode(sticky / "r.md") == 0o600


def test_a_symlink_at_the_final_name_is_replaced_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    victim.chmod(0o644)
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "report.html").symlink_to(victim)
    write_private(folder / "report.html", "report")
    assert victim.read_text() == "precious" and mode(victim) == 0o644
    assert not (folder / "report.html").is_symlink() and (folder / "report.html").read_text() == "report"


def test_a_symlink_planted_at_a_temporary_name_is_never_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old code wrote `.name.tmp<pid>`, a name anyone could guess and plant a link at. Even a planted
    name that matches is refused by O_EXCL|O_NOFOLLOW, and the names are random anyway."""
    import exposure.files as files

    victim = tmp_path / "victim"
    victim.write_text("precious")
    folder = tmp_path / "out"
    folder.mkdir()
    planted = folder / ".r.json.1-0000000000000000.tmp"
    planted.symlink_to(victim)
    monkeypatch.setattr(files, "_temporary_name", lambda path: planted)
    with pytest.raises(FileExistsError):
        write_private(folder / "r.json", "{}")
    assert victim.read_text() == "precious"
    monkeypatch.undo()
    names = set()
    for _ in range(3):
        write_private(folder / "r.json", "{}")
        names |= {p.name for p in folder.iterdir()}
    assert names == {"r.json", planted.name}  # every temporary file is gone again


def test_a_file_in_the_way_of_a_folder_is_an_oserror_in_plain_words(tmp_path: Path) -> None:
    blocker = tmp_path / "reports"
    blocker.write_text("not a folder")
    with pytest.raises(OSError) as info:
        write_private(blocker / "r.html", "x")
    assert "not a folder" in describe_os_error(info.value) or "file" in describe_os_error(info.value)
    with pytest.raises(NotADirectoryError) as again:
        private_folder(blocker)
    assert describe_os_error(again.value) == "it is a file, not a folder"


def test_a_killed_writer_leaves_a_temporary_file_the_next_run_removes(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    # a real writer, killed between creating its temporary file and renaming it
    code = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "import exposure.files as f\n"
        "real = os.replace\n"
        "os.replace = lambda a, b: os.kill(os.getpid(), signal.SIGKILL)\n"
        f"f.write_private(Path({str(folder / 'r.json')!r}), 'x' * 1000)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, check=False)
    assert done.returncode == -9, done.stderr
    (left,) = folder.iterdir()
    assert left.name.startswith(".r.json.") and left.name.endswith(".tmp")
    # someone else's live temporary file (this process's own pid) stays; the dead writer's goes
    alive = folder / f".other.json.{os.getpid()}-{'a' * 16}.tmp"
    alive.write_text("being written")
    unrelated = folder / ".notes.tmp"
    unrelated.write_text("not ours")
    write_private(folder / "next.json", "{}")
    assert sorted(p.name for p in folder.iterdir()) == sorted([alive.name, unrelated.name, "next.json"])
    # and a day-old one goes whoever wrote it
    old = time.time() - 2 * 24 * 3600
    os.utime(alive, (old, old))
    assert clean_leftovers(folder) == [alive]
