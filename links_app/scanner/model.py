"""The learned lexical model: logistic regression scored in pure Python.

Weights live in ``model_weights.json`` next to this file, written by
``scripts/train_scanner.py``. A feature the model has no weight for counts 0,
so rules added after training are harmless until the next training run.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .features import NUMERIC_FEATURES

WEIGHTS_PATH = Path(__file__).with_name("model_weights.json")


@dataclass(frozen=True)
class ModelScore:
    """Probability of malice and the features that pushed it up the most."""

    probability: float
    top_features: tuple[tuple[str, float], ...]


class LexicalModel:
    """Sparse logistic regression over named token features plus scaled counts."""

    def __init__(self, data: dict) -> None:
        if data.get("numeric_features") != list(NUMERIC_FEATURES):
            raise ValueError("model_weights.json was trained with different numeric features; retrain")
        self.bias: float = data["bias"]
        self.token_weights: dict[str, float] = data["token_weights"]
        self.numeric_means: list[float] = data["numeric_means"]
        self.numeric_scales: list[float] = data["numeric_scales"]
        self.numeric_weights: list[float] = data["numeric_weights"]
        self.metadata: dict = data.get("metadata", {})

    def score(self, tokens: set[str], numbers: list[float], explain: int = 3) -> ModelScore:
        """Score one URL's features; ``explain`` = how many top contributions to keep."""
        weights = self.token_weights
        contributions = [(token, weights[token]) for token in tokens if token in weights]
        logit = self.bias + sum(weight for _, weight in contributions)
        for value, mean, scale, weight in zip(numbers, self.numeric_means, self.numeric_scales, self.numeric_weights, strict=True):
            logit += weight * (value - mean) / scale
        probability = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, logit))))
        top = tuple(sorted((c for c in contributions if c[1] > 0), key=lambda c: -c[1])[:explain])
        return ModelScore(probability, top)


@lru_cache(maxsize=1)
def load_model(path: Path = WEIGHTS_PATH) -> LexicalModel:
    """Load (once) the shipped model."""
    with path.open(encoding="utf-8") as handle:
        return LexicalModel(json.load(handle))
