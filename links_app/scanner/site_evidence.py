"""Per-site evidence of a URL's rare tokens, an input of the trees (``model.py``).

Stage 1 only weighs tokens seen on at least 3 registered domains, and counts a
hosting platform as one domain, so the name of a site it never saw (``alaouiiii``
of alaouiiii.blogspot.com) and the rare words of a path say little there. Here,
for every character trigram of the *site label* (``structure.site_label``) and
every word of the path and query, the training script counts on how many
malicious and how many benign *sites* it occurs — a site counts once, and a
platform user's site is a site of its own (``site_key``) — and stores the
smoothed log-likelihood ratio of the two. A URL gets, per part, the mean and
the largest ratio of its tokens and the share of its tokens never seen in
training. The trees learn from out-of-fold values (domain-grouped folds) how
far this carries to sites they never saw.
"""

from __future__ import annotations

import math
import re

from .structure import path_site, site_label
from .urlview import UrlView

MAX_PATH_CHARS = 200  # as for stage 1's path n-grams (features.py)
_WORDS = re.compile(r"[a-z]+|[0-9]+")
# Added to each count, so a token seen on no site of one label is not infinitely telling.
SMOOTHING = 0.5
EVIDENCE_FEATURES = (
    "label_gram_llr_mean",
    "label_gram_llr_max",
    "label_gram_unseen",
    "path_word_llr_mean",
    "path_word_llr_max",
    "path_word_unseen",
)
EVIDENCE_PARTS = ("label_grams", "path_words")


def site_key(view: UrlView) -> str:
    """What counts as one site: a platform user's site (alice.github.io), a site named in the
    path of a user-content host (sites.google.com/view/alice), else the registered domain."""
    named = path_site(view)
    if named:
        return f"{view.parts.host.host}/{named}"
    return view.domain.hosted_site or view.parts.host.host


def evidence_tokens(view: UrlView) -> tuple[frozenset[str], frozenset[str]]:
    """(trigrams of ``^label$``, words of the path and query), as counted in training."""
    label = "^" + site_label(view) + "$"
    grams = frozenset(label[start : start + 3] for start in range(len(label) - 2))
    return grams, frozenset(_WORDS.findall(view.path_and_query[:MAX_PATH_CHARS]))


def log_likelihood_ratio(malicious: float, benign: float, malicious_sites: int, benign_sites: int) -> float:
    """log P(token | malicious site) - log P(token | benign site), smoothed."""
    return math.log((malicious + SMOOTHING) / (malicious_sites + 2 * SMOOTHING)) - math.log(
        (benign + SMOOTHING) / (benign_sites + 2 * SMOOTHING)
    )


class EvidenceTable:
    """One part's ratios per token seen in training, and the ratio of a token never seen."""

    def __init__(self, data: dict) -> None:
        self.ratios: dict[str, float] = data["llr"]
        self.unseen: float = log_likelihood_ratio(0, 0, data["malicious_sites"], data["benign_sites"])

    def values(self, tokens: frozenset[str]) -> tuple[float, float, float]:
        """(mean ratio, largest ratio, share of tokens never seen); zeros without tokens."""
        if not tokens:
            return 0.0, 0.0, 0.0
        ratios = self.ratios
        unseen = self.unseen
        found = [ratios.get(token) for token in tokens]
        values = [unseen if ratio is None else ratio for ratio in found]
        return sum(values) / len(values), max(values), found.count(None) / len(found)
