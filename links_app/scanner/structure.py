"""Structural counts of a URL for the tree ensemble (``trees.py``).

These describe the *shape* of a link, not its words, so they carry over to
sites and data sets the model never saw: how long the parts are, how many
digits/hyphens/subdomains, how random the domain name looks, whether a brand
sits outside its own domain, what kind of TLD it is. Trees need no scaling,
so the raw values are used. The scheme and ``www.`` stay out on purpose (see
``features.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from .brands import brands_in, is_official
from .lists import CREDENTIAL_WORDS, SUSPICIOUS_TLDS, URL_SHORTENERS
from .results import Finding
from .urlview import UrlView

_WORDS = re.compile(r"[a-z]+")
_DIGIT_RUNS = re.compile(r"[0-9]+")
_CONSONANT_RUNS = re.compile(r"[bcdfghjklmnpqrstvwxz]+")
_LETTER_DIGIT_SWITCH = re.compile(r"(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])")
# The long-standing generic TLDs; everything else is a country code or a newer gTLD.
_LEGACY_GENERIC_TLDS = frozenset(["com", "org", "net", "edu", "gov", "mil", "int"])
_SCRIPT_EXTENSIONS = frozenset(["php", "asp", "aspx", "jsp", "cgi", "pl"])
_PAGE_EXTENSIONS = frozenset(["html", "htm", "shtml"])
_SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3}

STRUCTURE_FEATURES = (
    "url_length",
    "host_length",
    "path_length",
    "query_length",
    "subdomains",
    "host_digits",
    "host_hyphens",
    "host_longest_digit_run",
    "path_depth",
    "query_params",
    "path_digit_ratio",
    "path_longest_digit_run",
    "path_special_chars",
    "path_dots",
    "path_longest_word",
    "label_length",
    "label_entropy",
    "label_vowel_ratio",
    "label_longest_consonant_run",
    "tld_class",
    "is_ip",
    "hosting_platform",
    "shortener",
    "brand_in_host",
    "brand_in_path",
    "credential_words",
    "extension_class",
    "trailing_slash",
    "bare_root",
    "findings_high",
    "findings_medium",
    "findings_low",
    # The site's own name: a platform user's label (alice of alice.github.io)
    # rather than the platform's, which says nothing about the page.
    "site_label_length",
    "site_label_entropy",
    "site_label_digits",
    "site_label_hyphens",
    "subdomain_length",
    "subdomain_digits",
    "subdomain_entropy",
    "path_words",
    "query_longest_value",
    "path_longest_segment",
    "path_share",
    "url_digit_ratio",
    "embedded_scheme",
    "path_percent",
    "host_letter_digit_switches",
    "path_letter_digit_switches",
)


def _entropy(text: str) -> float:
    total = len(text)
    if not total:
        return 0.0
    counts: dict[str, int] = {}
    for char in text:
        counts[char] = counts.get(char, 0) + 1
    return -sum(c / total * math.log2(c / total) for c in counts.values())


def _longest(pattern: re.Pattern, text: str) -> int:
    return max((len(run) for run in pattern.findall(text)), default=0)


def _tld_class(view: UrlView) -> int:
    """0 legacy generic (com/org/…), 1 country code, 2 newer generic, 3 abused, 4 none/IP."""
    tld = view.domain.suffix.rsplit(".", 1)[-1]
    if not tld:
        return 4
    if tld in SUSPICIOUS_TLDS:
        return 3
    if tld in _LEGACY_GENERIC_TLDS:
        return 0
    return 1 if len(tld) == 2 else 2


def _brand_flags(view: UrlView) -> tuple[int, int]:
    """(brand in host of a foreign domain, brand in path of a foreign domain); -1 = own brand."""
    domain = view.domain.registered_domain
    if not domain:
        return 0, 0
    in_host = brands_in(view.host_without_www)
    host_flag = (-1 if all(is_official(b, domain) for b in in_host) else 1) if in_host else 0
    in_path = brands_in(view.path_and_query)
    path_flag = int(any(not is_official(b, domain) for b in in_path))
    return host_flag, path_flag


def _extension_class(extension: str) -> int:
    """0 none, 1 server script (php …), 2 static page, 3 anything else."""
    if not extension:
        return 0
    if extension in _SCRIPT_EXTENSIONS:
        return 1
    return 2 if extension in _PAGE_EXTENSIONS else 3


def suffix_key(view: UrlView) -> str:
    """The key of the model's table of malicious shares per suffix (``co.uk``, ``ip``, ``none``)."""
    if view.parts.host.is_ip:
        return "ip"
    return view.domain.suffix or "none"


# User-content hosts of well-known domains whose path names the user's site:
# sites.google.com/view/NAME or /site/NAME, storage.cloud.google.com/BUCKET/…
# (an empty tuple: the first segment is the name).
PATH_NAMED_SITES: dict[str, tuple[str, ...]] = {
    "sites.google.com": ("site", "view"),
    "storage.cloud.google.com": (),
    "storage.googleapis.com": (),
    "gist.github.com": (),
}


def path_site(view: UrlView) -> str:
    """On a user-content host whose path names the site, that name (``""`` elsewhere)."""
    kinds = PATH_NAMED_SITES.get(view.parts.host.host)
    if kinds is None:
        return ""
    segments = [segment for segment in view.parts.path.lower().split("/") if segment]
    if not kinds:
        return segments[0] if segments else ""
    return segments[1] if len(segments) > 1 and segments[0] in kinds else ""


def site_label(view: UrlView) -> str:
    """The label that names the site: the user's on a hosting platform or a user-content
    host, else the domain's."""
    if view.domain.on_hosting_platform:
        return view.domain.hosted_site.split(".", 1)[0]
    named = path_site(view)
    if named:
        return named.split(".", 1)[0]
    return view.domain.domain_label or view.host_without_www


def _part_counts(view: UrlView) -> list[float]:
    """Counts of the site label, the subdomain and the path/query (the tail of STRUCTURE_FEATURES)."""
    site = site_label(view)
    subdomain = ".".join(view.subdomain_labels)
    path = view.path_and_query
    url = view.parts.url
    query = view.parts.query
    values = [pair.split("=", 1)[-1] for pair in query.split("&")] if query else []
    return [
        float(len(site)),
        _entropy(site),
        float(sum(c.isdigit() for c in site)),
        float(site.count("-")),
        float(len(subdomain)),
        float(sum(c.isdigit() for c in subdomain)),
        _entropy(subdomain),
        float(len(_WORDS.findall(path))),
        float(max((len(value) for value in values), default=0)),
        float(max((len(segment) for segment in view.parts.path.split("/")), default=0)),
        len(path) / len(url),
        sum(c.isdigit() for c in url) / len(url),
        float(path.count("http") + path.count("www.")),
        float(path.count("%")),
        float(len(_LETTER_DIGIT_SWITCH.findall(view.host_without_www))),
        float(len(_LETTER_DIGIT_SWITCH.findall(path))),
    ]


def structure_features(view: UrlView, findings: Sequence[Finding]) -> list[float]:
    """Values in the order of STRUCTURE_FEATURES."""
    parts = view.parts
    host = view.host_without_www
    path = view.path_and_query
    label = view.domain.domain_label or host
    letters = [c for c in label if c.isalpha()]
    path_digits = sum(c.isdigit() for c in path)
    text = host + " " + path
    severities = [0, 0, 0, 0]
    for finding in findings:
        severities[_SEVERITY_RANK.get(finding.severity, 0)] += 1
    brand_host, brand_path = _brand_flags(view)
    registered = view.domain.registered_domain
    return [
        float(len(parts.url)),
        float(len(host)),
        float(len(parts.path)),
        float(len(parts.query)),
        float(len(view.subdomain_labels)),
        float(sum(c.isdigit() for c in host)),
        float(host.count("-")),
        float(_longest(_DIGIT_RUNS, host)),
        float(parts.path.count("/") - 1),
        float(parts.query.count("&") + 1 if parts.query else 0),
        path_digits / len(path) if path else 0.0,
        float(_longest(_DIGIT_RUNS, path)),
        float(sum(path.count(c) for c in "@~_=%-")),
        float(path.count(".")),
        float(_longest(_WORDS, path)),
        float(len(label)),
        _entropy(label),
        sum(c in "aeiou" for c in letters) / len(letters) if letters else 0.0,
        float(_longest(_CONSONANT_RUNS, label)),
        float(_tld_class(view)),
        float(parts.host.is_ip),
        float(view.domain.on_hosting_platform),
        float(registered in URL_SHORTENERS or parts.host.host in URL_SHORTENERS),
        float(brand_host),
        float(brand_path),
        float(sum(word in text for word in CREDENTIAL_WORDS)),
        float(_extension_class(view.file_extension)),
        float(parts.path.endswith("/") and parts.path != "/"),
        float(parts.path == "/" and not parts.query),
        float(severities[3]),
        float(severities[2]),
        float(severities[1]),
        *_part_counts(view),
    ]
