"""Model features of a URL, shared by the training script and runtime scoring.

Only what generalises across data sets goes in: character n-grams and words
of the host (minus ``www.``) and of the path, the suffix, the file extension,
which rules fired, and a few counts. The scheme is left out on purpose:
whether a data set kept ``http``/``https`` says more about how it was
collected than about the site, and phishing moved to HTTPS years ago.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from .brands import brands_in, is_official
from .urlview import UrlView

NGRAM_SIZES = (3, 4, 5)
MAX_PATH_CHARS = 200  # n-grams beyond this add cost, not signal
_SPLIT_HOST = re.compile(r"[.\-]+")
_WORDS = re.compile(r"[a-z]+|[0-9]+")
_HEXISH = re.compile(r"[0-9a-f]{16,}")

# Token families by the part of the URL they describe; the trees see stage 1's
# log-odds split into these parts (model.py), so they can weigh an ordinary
# host against a phishing-looking path (a compromised site) on their own.
HOST_TOKEN_PREFIXES = ("h:", "hw:", "tld:", "host:")
PATH_TOKEN_PREFIXES = ("p:", "pw:", "ext:")

NUMERIC_FEATURES = (
    "log_url_length",
    "log_host_length",
    "subdomain_depth",
    "host_digits",
    "host_hyphens",
    "path_depth",
    "query_params",
    "digit_ratio",
    "longest_word",
    "host_entropy",
    "has_hex_token",
)


def _ngrams(prefix: str, text: str, out: set[str]) -> None:
    length = len(text)
    for size in NGRAM_SIZES:
        for start in range(length - size + 1):
            out.add(prefix + text[start : start + size])


def token_features(view: UrlView, finding_codes: Iterable[str]) -> set[str]:
    """Sparse binary features, named so a weight can be explained to a person."""
    host = view.host_without_www
    path = view.path_and_query[:MAX_PATH_CHARS]
    features: set[str] = set()
    _ngrams("h:", "^" + host + "$", features)
    _ngrams("p:", path, features)
    features.update("hw:" + word for word in _SPLIT_HOST.split(host) if word)
    features.update("pw:" + word for word in _WORDS.findall(path))
    if view.parts.host.is_ip:
        features.add("host:ip")
    else:
        features.add("tld:" + (view.domain.suffix or "none"))
    features.add("ext:" + (view.file_extension or "none"))
    features.update("rule:" + code for code in finding_codes)
    features.update(_shape_tokens(view))
    return features


def _bucket(value: int, edges: tuple[int, ...]) -> int:
    return sum(value > edge for edge in edges)


def _shape_tokens(view: UrlView) -> list[str]:
    """Bucketed sizes as tokens, so the linear model can learn non-linear effects."""
    parts = view.parts
    tokens = [
        f"shape:url_len{_bucket(len(parts.url), (25, 40, 60, 80, 120, 200))}",
        f"shape:path_depth{_bucket(parts.path.count('/'), (1, 2, 3, 5))}",
        f"shape:subdomains{_bucket(len(view.subdomain_labels), (0, 1, 2))}",
        f"shape:query{_bucket(len(parts.query), (0, 20, 60))}",
        f"shape:bare_root{int(parts.path == '/' and not parts.query)}",
    ]
    mentioned = brands_in(view.host_without_www)
    if mentioned and view.domain.registered_domain:
        official = all(is_official(brand, view.domain.registered_domain) for brand in mentioned)
        tokens.append("brand:official" if official else "brand:foreign")
    return tokens


def _entropy(text: str) -> float:
    if not text:
        return 0.0
    counts: dict[str, int] = {}
    for char in text:
        counts[char] = counts.get(char, 0) + 1
    total = len(text)
    return -sum(c / total * math.log2(c / total) for c in counts.values())


def numeric_features(view: UrlView) -> list[float]:
    """Counts in the order of NUMERIC_FEATURES (scaled by the model's stored means/stds)."""
    url = view.parts.url
    host = view.host_without_www
    path = view.path_and_query
    words = _WORDS.findall(path + "." + host)
    label = view.domain.domain_label or host
    return [
        math.log1p(len(url)),
        math.log1p(len(host)),
        float(len(view.subdomain_labels)),
        float(sum(char.isdigit() for char in host)),
        float(host.count("-")),
        float(view.parts.path.count("/") - 1),
        float(view.parts.query.count("&") + 1 if view.parts.query else 0),
        sum(char.isdigit() for char in url) / len(url),
        float(max((len(word) for word in words), default=0)),
        _entropy(label),
        1.0 if _HEXISH.search(path) else 0.0,
    ]
