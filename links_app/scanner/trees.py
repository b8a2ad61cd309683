"""A small gradient-boosted tree ensemble evaluated in pure Python.

``scripts/train_scanner.py`` fits scikit-learn's GradientBoostingClassifier
and exports each regression tree as five flat, parallel lists (sklearn's own
array layout), which keeps loading and walking cheap without numpy:

    {"feature": [0, -1, -1], "threshold": [3.5, 0, 0],
     "left": [1, -1, -1], "right": [2, -1, -1], "value": [0, -0.2, 0.4]}

A node with ``feature == -1`` is a leaf. ``value`` already includes the
learning rate, so the ensemble's log-odds are ``base + sum(leaf values)``.
Like sklearn, a sample goes left when ``x[feature] <= threshold``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence


class Tree:
    """One regression tree as flat lists (index 0 is the root)."""

    __slots__ = ("feature", "left", "right", "threshold", "value")

    def __init__(self, data: dict) -> None:
        self.feature: list[int] = data["feature"]
        self.threshold: list[float] = data["threshold"]
        self.left: list[int] = data["left"]
        self.right: list[int] = data["right"]
        self.value: list[float] = data["value"]
        lengths = {len(self.feature), len(self.threshold), len(self.left), len(self.right), len(self.value)}
        if len(lengths) != 1:
            raise ValueError("tree lists must all have the same length")

    def leaf_value(self, x: Sequence[float]) -> float:
        """Walk from the root to a leaf and return its value."""
        feature, threshold, left, right = self.feature, self.threshold, self.left, self.right
        node = 0
        while feature[node] >= 0:
            node = left[node] if x[feature[node]] <= threshold[node] else right[node]
        return self.value[node]


class TreeEnsemble:
    """Sum of trees on top of a base log-odds."""

    def __init__(self, data: dict) -> None:
        self.base: float = data["base"]
        self.trees = [Tree(tree) for tree in data["trees"]]

        # The walk is inlined over plain tuples: a method call per tree would
        # cost more than the walk itself, and scanning must stay fast.
        self._flat = [(t.feature, t.threshold, t.left, t.right, t.value) for t in self.trees]
        # Faster still: the trees compiled once into one function of nested
        # ``if``s (no list indexing per node). Only numbers from the lists go
        # into the source; very deep or non-finite trees keep the plain walk.
        self._compiled = _compile(self.base, self.trees)

    def log_odds(self, x: Sequence[float]) -> float:
        """Raw additive score (log-odds of malice)."""
        if self._compiled is not None:
            return self._compiled(x)
        return self.walk(x)

    def walk(self, x: Sequence[float]) -> float:
        """The same score by walking the lists (the reference for the compiled form)."""
        total = self.base
        for feature, threshold, left, right, value in self._flat:
            node = 0
            while (index := feature[node]) >= 0:
                node = left[node] if x[index] <= threshold[node] else right[node]
            total += value[node]
        return total


_MAX_COMPILED_DEPTH = 20  # Python limits nesting; deeper trees are walked instead


def _compile(base: float, trees: list[Tree]) -> Callable[[Sequence[float]], float] | None:
    lines = ["def log_odds(x):", f"    t = {float(base)!r}"]

    def emit(tree: Tree, node: int, depth: int) -> bool:
        pad = "    " * (depth + 1)
        if tree.feature[node] < 0:
            lines.append(f"{pad}t += {float(tree.value[node])!r}")
            return math.isfinite(tree.value[node])
        threshold = float(tree.threshold[node])
        if depth >= _MAX_COMPILED_DEPTH or not math.isfinite(threshold):
            return False
        lines.append(f"{pad}if x[{int(tree.feature[node])}] <= {threshold!r}:")
        if not emit(tree, tree.left[node], depth + 1):
            return False
        lines.append(f"{pad}else:")
        return emit(tree, tree.right[node], depth + 1)

    if not math.isfinite(base) or not all(emit(tree, 0, 0) for tree in trees):
        return None
    lines.append("    return t")
    namespace: dict = {}
    exec(compile("\n".join(lines), "<scanner trees>", "exec"), namespace)  # noqa: S102 - numbers only
    return namespace["log_odds"]
