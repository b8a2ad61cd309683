"""Registered-domain lookup with tldextract's bundled Public Suffix List only.

``suffix_list_urls=()`` and ``cache_dir=None`` mean tldextract never downloads
the list and never writes a cache: the snapshot shipped inside the wheel is
used, so scanning works offline and gives the same answer on every machine.
A unit test proves no socket is opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import tldextract

_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


@dataclass(frozen=True, slots=True)
class DomainParts:
    """How a host splits around its public suffix."""

    registered_domain: str  # ICANN view: "example.co.uk" (empty for IPs / bare hosts)
    domain_label: str  # "example"
    suffix: str  # ICANN suffix: "co.uk"
    subdomain: str  # everything left of the ICANN registered domain
    hosted_site: str  # private-suffix view: "alice.github.io" (platform user sites)

    @property
    def on_hosting_platform(self) -> bool:
        """True when the host is a user site on a shared platform (PSL private part)."""
        return bool(self.hosted_site) and self.hosted_site != self.registered_domain


@lru_cache(maxsize=65536)
def split_host(host: str) -> DomainParts:
    """Split a canonical (ASCII, lower-case) host; IPs and bare hosts get empty parts."""
    result = _EXTRACTOR.extract_str(host)
    icann_domain = result.top_domain_under_registry_suffix
    if not icann_domain:
        return DomainParts("", "", "", "", "")
    suffix = result.registry_suffix
    label = icann_domain[: -len(suffix) - 1]
    subdomain = host[: -len(icann_domain)].rstrip(".")
    hosted = result.top_domain_under_public_suffix if result.is_private else icann_domain
    return DomainParts(icann_domain, label, suffix, subdomain, hosted)


def registered_domain(url: str) -> str:
    """The ICANN registered domain of ``url`` (``"https://a.b.example.co.uk/"`` → ``"example.co.uk"``).

    Accepts a raw or normalised URL; an IP host is returned as is. Used by the
    links API's ``?domain=`` filter. Raises InvalidURL for unusable input.
    """
    from .normalize import normalize_parts

    host = normalize_parts(url).host
    if host.is_ip:
        return host.host
    parts = split_host(host.host)
    return parts.registered_domain or host.host
