"""The allow-list of very common registered domains (``common_domains.txt``), applied with care.

A long documentation path or an OAuth login URL on a site everyone visits is
the model's typical false positive, and such a site is not phishing because its
URLs look busy. But being on a famous domain proves nothing where anyone can
publish under that name, so the allow-list does not apply to:

- user sites on hosting platforms (a private suffix of the Public Suffix List:
  ``alice.github.io``, ``x.blogspot.com``) — none of those platforms is listed;
- user-content hosts of listed domains (``sites.google.com``, ``docs.google.com``,
  ``forms.office.com`` …: forms and pages anyone can make), ``USER_CONTENT_HOSTS``;
- URLs with a high-severity finding (an ``.exe`` download, a homograph …) or
  with tricks that point elsewhere: a user part before ``@``, a non-standard
  port, or another URL inside (open redirects such as ``google.com/url?q=…``)
  unless every URL inside is itself on a listed domain and host (an OAuth
  ``redirect_uri`` back to the same site).

The file ships with the package; nothing is downloaded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from .domains import split_host
from .results import Finding
from .urlview import UrlView

DOMAINS_PATH = Path(__file__).with_name("common_domains.txt")
# The most risk a URL on a common domain can get from the model (safety score >= 80).
COMMON_DOMAIN_RISK_CAP = 0.2
USER_CONTENT_HOSTS = frozenset(
    {
        "sites.google.com",
        "docs.google.com",
        "drive.google.com",
        "storage.cloud.google.com",
        "script.google.com",
        "translate.google.com",
        "groups.google.com",
        "forms.office.com",
        "sway.office.com",
        "onedrive.live.com",
        "1drv.ms",
        "gist.github.com",
        "web.archive.org",
    }
)
# Findings after which the famous domain says nothing about the destination.
DISQUALIFYING_CODES = frozenset({"userinfo_in_url", "non_standard_port", "url_shortener"})
# The host of a URL inside the path or query, plain or percent-encoded.
_EMBEDDED_HOST = re.compile(r"(?:https?|ftp)(?::|%3a)(?://|%2f%2f)([^/?#&%:@\\]+)", re.IGNORECASE)


@cache
def common_domains() -> frozenset[str]:
    lines = DOMAINS_PATH.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def _listed_host(host: str) -> bool:
    """On a listed domain, and neither a platform user's site nor a user-content host."""
    host = host.lower().rstrip(".")
    domain = split_host(host)
    return (
        domain.registered_domain in common_domains()
        and not domain.on_hosting_platform
        and host.removeprefix("www.") not in USER_CONTENT_HOSTS
    )


def common_domain_finding(view: UrlView, findings: Sequence[Finding]) -> Finding | None:
    """An ``info`` finding when the allow-list applies to this URL, else None."""
    if view.parts.host.is_ip or not _listed_host(view.parts.host.host):
        return None
    codes = {f.code for f in findings}
    if codes & DISQUALIFYING_CODES or any(f.severity == "high" for f in findings):
        return None
    if "embedded_url" in codes:
        inside = _EMBEDDED_HOST.findall(view.path_and_query)
        if not inside or not all(_listed_host(host) for host in inside):
            return None
    return Finding(
        "common_domain",
        "info",
        f"{view.domain.registered_domain} is one of the most visited sites and no rule found a trick in this link;"
        " its shape alone does not make it suspicious.",
    )
