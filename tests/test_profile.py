"""Profiles are validated at the edge and normalised once."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from exposure.errors import ProfileError
from exposure.profile import ProfileFile, dump_profile, load_profile, write_private


def test_default_profile_normalises(profile: object) -> None:
    from exposure.profile import Profile

    assert isinstance(profile, Profile)
    assert profile.phones == ("2175550142", "3125550188")
    assert profile.addresses[0].street == "412 N WALNUT ST" and profile.addresses[0].unit == "3"
    assert profile.states == ("IL",)
    assert [n.original for n in profile.names] == ["Jane Marie Testwood", "Janie Testwood", "Jane Holloway"]


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ('aliases = ["x"]\n', "field name", "Field required"),
        ('name = "Cher"\n', "line 1: field name", "first and a last name"),
        ('name = "Jane Doe"\nphones = ["12"]\n', "line 2: field phones", "too few digits"),
        ('name = "Jane Doe"\nemails = ["nope"]\n', "line 2: field emails", "not an email"),
        ('name = "Jane Doe"\naddresses = ["somewhere nice"]\n', "line 2: field addresses", "not a street address"),
        ('name = "Jane Doe"\nbirth_year = 1800\n', "line 2: field birth_year", "greater than or equal"),
        ('name = "Jane Doe"\nfavourite = 1\n', "line 2: field favourite", "Extra inputs"),
        ('name = "Jane Doe\n', "", "not valid TOML"),
    ],
)
def test_bad_profiles_name_file_field_and_problem(tmp_path: Path, text: str, where: str, what: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert str(path) in message and where in message and what in message


def test_missing_profile_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="exposure init"):
        load_profile(tmp_path / "none.toml")


def test_write_private_is_0600_in_0700(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "profile.toml"
    data = ProfileFile(name='Jane "J" Doe', phones=["217 555 0142"], addresses=["1 Main St, Springfield, IL 62701"])
    write_private(path, dump_profile(data))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_profile(path).name.original == 'Jane "J" Doe'
