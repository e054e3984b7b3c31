"""Which site a URL belongs to, so that a rule can only ever send requests to its own site.

A site is its registered domain ("www.fastpeoplesearch.com" -> "fastpeoplesearch.com"), found with
tldextract's bundled public-suffix snapshot only: it must never download the list. Hosts with no
public suffix (IP literals, localhost, ".example"/".test" names used by demos and tests) have no
registered domain, so for them the site is the exact host and port: two loopback servers on two
ports are two different sites, which is what the redirect tests need.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

if TYPE_CHECKING:
    import tldextract


@cache
def _extractor() -> tldextract.TLDExtract:
    """Made on first use: tldextract brings in `requests` (a tenth of a second and several MB), and the analysis
    workers, which import the rules' models but never check a domain, need neither."""
    import tldextract

    # suffix_list_urls=() and cache_dir=None: use the snapshot shipped inside tldextract, never the network.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@lru_cache(maxsize=4096)
def _registered(host: str) -> str:
    parts = _extractor()(host)
    if parts.suffix and parts.domain:
        return f"{parts.domain}.{parts.suffix}".lower()
    return ""


def registered_domain(host: str) -> str:
    """The registered domain of a host ("www.example.com" -> "example.com"); "" for a public suffix ("com",
    "co.uk") and for hosts without one."""
    return _registered(host.strip(".").lower())


def is_public_suffix(host: str) -> bool:
    """Whether a host is a public suffix itself ("com", "co.uk", "github.io"): one such name covers many sites."""
    parts = _extractor()(host.strip(".").lower())
    return bool(parts.suffix) and not parts.domain


def site_of(url: str) -> str:
    """The site key of an absolute URL: its registered domain, or host:port when it has none."""
    return _site_of_parts(urlsplit(url))


def _site_of_parts(parts: SplitResult) -> str:
    host = (parts.hostname or "").lower()
    if not host:
        return ""
    registered = _registered(host)
    if registered:
        return registered
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{host}:{port}"


@lru_cache(maxsize=4096)
def normalize_domain(domain: str) -> str:
    """A rule's `domain` as a site key ("127.0.0.1:8080", "fastpeoplesearch.com")."""
    domain = domain.strip().lower()
    if "://" in domain:
        return site_of(domain)
    host, _, port = domain.partition(":")
    registered = _registered(host)
    if registered:
        return registered
    # no port given: the host on any port (http and https differ in port only)
    return f"{host}:{port}" if port else host


def url_problem(url: str, domain: str) -> str | None:
    """Why `url` may not be requested for a rule of `domain`, or None when it may."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        return f"malformed URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"scheme {parts.scheme or '(none)'!r} is not http or https"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "URL carries user-info (user@host)"
    if not parts.hostname:
        return "URL has no host"
    site, rule_site = _site_of_parts(parts), normalize_domain(domain)
    if ":" not in rule_site and ":" in site:  # a port-less rule domain for a host without a public suffix
        site = site.rsplit(":", 1)[0]
    if site != rule_site:
        return f"host {parts.hostname} is outside the rule's domain {domain}"
    return None
