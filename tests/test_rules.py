"""Rule files are validated at load; every error names the file, the key and the line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from exposure.errors import RuleError
from exposure.rules import load_rule, load_rules

GOOD = """\
id = "good"
name = "Good"
domain = "example.com"
[[searches]]
kind = "name"
url = "https://www.example.com/{first|slug}-{last|slug}"
[[pages.no_results]]
text = ["no results"]
[extract]
listing = ".card"
"""


def write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / f"{name}.toml"
    p.write_text(textwrap.dedent(text))
    return p


def error_of(path: Path) -> RuleError:
    with pytest.raises(RuleError) as info:
        load_rule(path)
    return info.value


def test_good_rule_loads(tmp_path: Path) -> None:
    rule = load_rule(write(tmp_path, "good", GOOD))
    assert rule.site_key == "example.com" and rule.searches[0].kind.value == "name"


def test_unknown_key_names_file_key_and_line(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "good", GOOD.replace('listing = ".card"', 'listing = ".card"\nlistings = "x"')))
    assert "good.toml" in str(err) and "extract.listings" in str(err) and "line 11" in str(err)
    assert "Extra inputs are not permitted" in str(err)


def test_id_must_equal_file_name(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "other", GOOD))
    assert "must equal the file name 'other'" in str(err) and "line 1" in str(err)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("https://www.example.com/", "https://evil.example.net/"), "outside the rule's domain"),
        (("{first|slug}", "{phone}"), "not available to a name search"),
        (("{first|slug}", "{first|shout}"), "unknown transform"),
        (("https://www.example.com/", "javascript://www.example.com/"), "not http or https"),
        (('text = ["no results"]', ""), "at least one of status"),
        (('listing = ".card"', ""), "extract needs a listing selector"),
        (('domain = "example.com"', 'domain = "example.com"\ndelay = "slow"'), "line 4: key delay"),
        (('domain = "example.com"', 'domain = "example.com"\nengine = "curl"'), "key engine"),
        (
            ('domain = "example.com"', 'domain = "example.com"\nasset_hosts = ["cdn.example.net"]'),
            'asset_hosts is only used with engine = "browser"',
        ),
        (
            ('domain = "example.com"', 'domain = "example.com"\nengine = "browser"\nasset_hosts = ["com"]'),
            "is a public suffix",
        ),
        (
            ('domain = "example.com"', 'domain = "example.com"\nengine = "browser"\nasset_hosts = ["*.cdn.net"]'),
            "must be a host name",
        ),
        (
            ('domain = "example.com"', 'domain = "example.com"\nengine = "browser"\nasset_hosts = ["https://a.net/"]'),
            "must be a host name",
        ),
    ],
)
def test_invalid_rules_are_rejected_with_a_reason(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    err = error_of(write(tmp_path, "good", GOOD.replace(*change)))
    assert message in str(err) and "good.toml" in str(err)


def test_not_toml(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "good", GOOD + "\n[[[broken"))
    assert "not valid TOML" in str(err) and "line" in str(err)


def test_duplicate_ids_across_folders(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write(tmp_path / "a", "good", GOOD)
    write(tmp_path / "b", "good", GOOD)
    with pytest.raises(RuleError, match="defined twice"):
        load_rules([tmp_path / "a", tmp_path / "b"])


def test_loopback_rule_domain_is_host_and_port(tmp_path: Path) -> None:
    text = GOOD.replace('domain = "example.com"', 'domain = "127.0.0.1:8123"').replace(
        "https://www.example.com/", "http://127.0.0.1:8123/"
    )
    assert load_rule(write(tmp_path, "good", text)).site_key == "127.0.0.1:8123"
    other_port = text.replace("http://127.0.0.1:8123/", "http://127.0.0.1:9999/")
    assert "outside the rule's domain" in str(error_of(write(tmp_path, "good", other_port)))


def test_https_urls_on_a_host_without_public_suffix(tmp_path: Path) -> None:
    text = GOOD.replace('domain = "example.com"', 'domain = "people.example"').replace(
        "https://www.example.com/", "https://people.example/"
    )
    assert load_rule(write(tmp_path, "good", text)).site_key == "people.example"


def test_browser_engine_with_asset_hosts(tmp_path: Path) -> None:
    text = GOOD.replace(
        'domain = "example.com"',
        'domain = "example.com"\nengine = "browser"\nasset_hosts = ["CDN.Example.net", "challenges.cloudflare.com"]',
    )
    rule = load_rule(write(tmp_path, "good", text))
    assert rule.engine == "browser" and rule.asset_hosts == ["cdn.example.net", "challenges.cloudflare.com"]
    assert load_rule(write(tmp_path, "good", GOOD)).engine == "http"
