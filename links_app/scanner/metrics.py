"""Evaluation metrics in pure Python (no scikit-learn at runtime).

Scores are *risk* scores: higher means more likely malicious. Labels are
booleans: True for malicious. (For a safety score, pass ``100 - score``.)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence


def roc_auc(labels: Sequence[bool], risks: Sequence[float]) -> float:
    """Area under the ROC curve, ties counted as half (Mann–Whitney U)."""
    positives = sum(1 for label in labels if label)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("ROC AUC needs both malicious and benign examples")
    pairs = sorted(zip(risks, labels, strict=True), key=lambda pair: pair[0])
    rank_sum, index = 0.0, 0
    while index < len(pairs):
        end = index
        while end < len(pairs) and pairs[end][0] == pairs[index][0]:
            end += 1
        average_rank = (index + 1 + end) / 2  # ranks are 1-based; ties share the mean
        rank_sum += average_rank * sum(1 for _, label in pairs[index:end] if label)
        index = end
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def recall_at_fpr(labels: Sequence[bool], risks: Sequence[float], max_fpr: float) -> float:
    """Best recall of malicious URLs with a threshold whose false-positive rate is <= max_fpr.

    Flagging means ``risk >= threshold``; thresholds are the observed scores,
    so ties are flagged together, as a real threshold would.
    """
    positives = sum(1 for label in labels if label)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("recall at FPR needs both malicious and benign examples")
    pairs = sorted(zip(risks, labels, strict=True), key=lambda pair: -pair[0])
    best, true_pos, false_pos, index = 0.0, 0, 0, 0
    while index < len(pairs):
        threshold = pairs[index][0]
        while index < len(pairs) and pairs[index][0] == threshold:
            true_pos += pairs[index][1]
            false_pos += not pairs[index][1]
            index += 1
        if false_pos / negatives <= max_fpr:
            best = max(best, true_pos / positives)
        else:
            break
    return best


def confusion_table(labels: Sequence[str], verdicts: Sequence[str]) -> dict[str, dict[str, int]]:
    """``{label: {verdict: count}}`` for every label and verdict seen."""
    table: dict[str, dict[str, int]] = {}
    for label, verdict in zip(labels, verdicts, strict=True):
        row = table.setdefault(label, {})
        row[verdict] = row.get(verdict, 0) + 1
    return table


def threshold_for_fpr(labels: Sequence[bool], risks: Sequence[float], max_fpr: float) -> float:
    """The lowest risk threshold (``risk >= threshold`` flags) whose false-positive rate is <= max_fpr.

    Thresholds are the observed risks, so ties are flagged together; when even
    the highest risk flags too many benign URLs, the answer lies just above it
    (nothing observed is flagged).
    """
    negatives = sum(1 for label in labels if not label)
    if negatives == 0:
        raise ValueError("a false-positive rate needs benign examples")
    benign_risks = sorted(
        (risk for risk, label in zip(risks, labels, strict=True) if not label), reverse=True
    )
    allowed = int(max_fpr * negatives + 1e-9)  # benign URLs the budget allows to be flagged
    candidates = sorted(set(risks), reverse=True)
    best = None
    flagged = 0
    for threshold in candidates:
        while flagged < len(benign_risks) and benign_risks[flagged] >= threshold:
            flagged += 1
        if flagged > allowed:
            break
        best = threshold
    if best is None:
        return min(1.0, max(risks) + 1e-6)
    return best


def reliability_table(
    labels: Sequence[bool], risks: Sequence[float], edges: Sequence[float]
) -> list[dict[str, float]]:
    """Per risk band ``[edges[i], edges[i+1])`` (the last band closed): how many URLs, the mean
    predicted risk and the share that really were malicious. A calibrated score has the two close.
    """
    bands = []
    for index, (low, high) in enumerate(itertools.pairwise(edges)):
        last = index == len(edges) - 2
        members = [
            (risk, label)
            for risk, label in zip(risks, labels, strict=True)
            if low <= risk < high or (last and risk == high)
        ]
        count = len(members)
        bands.append(
            {
                "low": low,
                "high": high,
                "count": count,
                "malicious": sum(1 for _, label in members if label),
                "mean_risk": sum(risk for risk, _ in members) / count if count else 0.0,
                "observed": sum(1 for _, label in members if label) / count if count else 0.0,
            }
        )
    return bands
