"""The learned model: lexical logistic regression, then stacked trees, in pure Python.

Weights live in ``model_weights.json`` next to this file, written by
``scripts/train_scanner.py``. Stage 1 (logistic regression over named tokens)
is good at words and n-grams; stage 2 (a small tree ensemble, ``trees.py``)
sees the structural counts of ``structure.py``, the suffix's share of
malicious domains in the training data (``suffix_risk`` in the file) and
stage 1's log-odds (whole, and the host's and the path's share of it), so it
learns shapes a linear model cannot (e.g. a long query is fine on a big
domain, odd on a random-looking one). The final log-odds blend the two.
A token the model has no weight for counts 0, so rules added after training
are harmless until the next training run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .features import HOST_TOKEN_PREFIXES, NUMERIC_FEATURES, PATH_TOKEN_PREFIXES
from .site_evidence import EVIDENCE_FEATURES, EVIDENCE_PARTS, EvidenceTable
from .structure import STRUCTURE_FEATURES
from .trees import TreeEnsemble

WEIGHTS_PATH = Path(__file__).with_name("model_weights.json")
# Share of stage 1 in the final log-odds. Keeping part of the linear score
# directly steadies the ranking on unseen domains (grouped CV), where the
# trees alone were slightly worse in AUC.
LEXICAL_SHARE = 0.5
# What the trees see of stage 1, after the structural counts: the summed
# weights of the host tokens and of the path tokens, then the whole log-odds.
STACKED_FEATURES = ("lexical_host", "lexical_path", "lexical_log_odds")
# The trees' inputs in order: structural counts, the suffix's share of malicious
# registered domains in the training data (smoothed towards the overall share, so
# a suffix seen on a few domains says little; unseen suffixes get the overall
# share), the per-site evidence of the site label's trigrams and the path's words
# (site_evidence.py), then stage 1.
TREE_INPUTS = (*STRUCTURE_FEATURES, "suffix_risk", *EVIDENCE_FEATURES, *STACKED_FEATURES)


def lexical_parts(contributions: Sequence[tuple[str, float]]) -> tuple[float, float]:
    """Summed stage-1 weights of the host tokens and of the path tokens."""
    host = path = 0.0
    for token, weight in contributions:
        if token.startswith(HOST_TOKEN_PREFIXES):
            host += weight
        elif token.startswith(PATH_TOKEN_PREFIXES):
            path += weight
    return host, path


@dataclass(frozen=True)
class ModelScore:
    """Probability of malice and the tokens that pushed it up the most."""

    probability: float
    top_features: tuple[tuple[str, float], ...]


class LexicalModel:
    """Sparse logistic regression over named token features plus scaled counts, then trees."""

    def __init__(self, data: dict) -> None:
        if data.get("numeric_features") != list(NUMERIC_FEATURES):
            raise ValueError("model_weights.json was trained with different numeric features; retrain")
        tree_data = data.get("trees")
        if tree_data is not None and tree_data.get("features") != list(TREE_INPUTS):
            raise ValueError("model_weights.json was trained with different structure features; retrain")
        if tree_data is not None and "suffix_risk" not in data:
            raise ValueError("model_weights.json has trees but no suffix_risk table; retrain")
        if tree_data is not None and set(data.get("site_evidence", ())) != set(EVIDENCE_PARTS):
            raise ValueError("model_weights.json has trees but no site_evidence tables; retrain")
        suffix_risk = data.get("suffix_risk", {"prior": 0.0, "by_suffix": {}})  # unused without trees
        self.suffix_prior: float = suffix_risk["prior"]
        self.suffix_risk: dict[str, float] = suffix_risk["by_suffix"]
        self.bias: float = data["bias"]
        self.token_weights: dict[str, float] = data["token_weights"]
        self.numeric_means: list[float] = data["numeric_means"]
        self.numeric_scales: list[float] = data["numeric_scales"]
        self.numeric_weights: list[float] = data["numeric_weights"]
        self.trees = TreeEnsemble(tree_data) if tree_data is not None else None
        self.evidence = (
            [EvidenceTable(data["site_evidence"][part]) for part in EVIDENCE_PARTS]
            if tree_data is not None
            else []
        )
        self.metadata: dict = data.get("metadata", {})

    def lexical_log_odds(
        self, tokens: set[str], numbers: Sequence[float]
    ) -> tuple[float, list[tuple[str, float]]]:
        """Stage 1: log-odds and the (token, weight) pairs that contributed."""
        weights = self.token_weights
        contributions = [(token, weights[token]) for token in tokens if token in weights]
        logit = self.bias + sum(weight for _, weight in contributions)
        for value, mean, scale, weight in zip(
            numbers, self.numeric_means, self.numeric_scales, self.numeric_weights, strict=True
        ):
            logit += weight * (value - mean) / scale
        return logit, contributions

    def score(
        self,
        tokens: set[str],
        numbers: Sequence[float],
        structure: Sequence[float] | None = None,
        suffix: str = "",
        evidence: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset()),
        explain: int = 3,
    ) -> ModelScore:
        """Score one URL's features; ``suffix`` is ``structure.suffix_key`` of the URL,
        ``evidence`` its ``site_evidence.evidence_tokens``;
        ``explain`` = how many top token contributions to keep.

        Without ``structure`` (or without trees in the file) only stage 1 is used.
        """
        logit, contributions = self.lexical_log_odds(tokens, numbers)
        if self.trees is not None and structure is not None:
            suffix_risk = self.suffix_risk.get(suffix, self.suffix_prior)
            site_values = [
                value
                for table, tokens in zip(self.evidence, evidence, strict=True)
                for value in table.values(tokens)
            ]
            tree_logit = self.trees.log_odds(
                [*structure, suffix_risk, *site_values, *lexical_parts(contributions), logit]
            )
            logit = LEXICAL_SHARE * logit + (1.0 - LEXICAL_SHARE) * tree_logit
        probability = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, logit))))
        top = tuple(sorted((c for c in contributions if c[1] > 0), key=lambda c: -c[1])[:explain])
        return ModelScore(probability, top)


@lru_cache(maxsize=1)
def load_model(path: Path = WEIGHTS_PATH) -> LexicalModel:
    """Load (once) the shipped model."""
    with path.open(encoding="utf-8") as handle:
        return LexicalModel(json.load(handle))
