"""Profiles are validated at the edge and normalised once."""

from __future__ import annotations

import json
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
        ('name = "Jane Doe"\nphones = ["12"]\n', "line 2: field phones", "is not a full phone number for US"),
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


@pytest.mark.parametrize("phone", ["217 555 014", "555-0142", "217-555-01429", "000 555 0142"])
def test_a_phone_that_is_not_a_full_number_is_refused(tmp_path: Path, phone: str) -> None:
    """9 digits (a typo), 7 (a local number), 11, or an area code that does not exist."""
    path = tmp_path / "p.toml"
    path.write_text(f'name = "Jane Doe"\nphones = ["{phone}"]\n')
    with pytest.raises(ProfileError, match="is not a full phone number for US"):
        load_profile(path)


def test_fictional_555_01xx_numbers_and_other_countries_stay_valid(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('name = "Jane Doe"\nphones = ["(217) 555-0142", "+1 312 555 0188", "608.555.0117"]\n')
    assert load_profile(path).phones == ("2175550142", "3125550188", "6085550117")
    path.write_text('country = "GB"\nname = "Jane Doe"\nphones = ["020 7946 0018"]\n')
    assert load_profile(path).phones == ("2079460018",)


@pytest.mark.parametrize("field", ["aliases", "phones", "emails", "addresses", "relatives"])
def test_more_than_twenty_of_anything_is_refused(tmp_path: Path, field: str) -> None:
    value = {
        "aliases": "Jane Q{i} Doe",
        "phones": "(217) 555-01{i:02d}",
        "emails": "jane{i}@example.com",
        "addresses": "{i} Main St, Springfield, IL 62701",
        "relatives": "John{i} Doe",
    }[field]
    items = [value.format(i=i + 1) for i in range(21)]
    path = tmp_path / "p.toml"

    def write(values: list[str]) -> None:
        path.write_text(f'name = "Jane Doe"\n{field} = [{", ".join(json.dumps(x) for x in values)}]\n')

    write(items)
    with pytest.raises(ProfileError, match=f"line 2: field {field}: at most 20 {field} \\(this profile has 21\\)"):
        load_profile(path)
    write(items[:20])
    load_profile(path)
