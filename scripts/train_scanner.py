"""Train the scanner's lexical model and report cross-validated quality.

    .venv/bin/pip install -r requirements-train.txt
    .venv/bin/python scripts/train_scanner.py [/work/shared/data/urls-dev.csv]

Cross-validation is 5-fold and *grouped by registered domain*: every fold's
test URLs come from domains the fold's model never saw, so memorising domains
cannot help and the figures estimate quality on new sites. The vocabulary is
chosen inside each fold, and a token is kept only if it occurs on at least
MIN_DOMAINS different registered domains (again: no per-site memorising).
The final model is fitted on all rows and written to
links_app/scanner/model_weights.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from links_app.scanner.errors import InvalidURL
from links_app.scanner.features import NUMERIC_FEATURES, numeric_features, token_features
from links_app.scanner.metrics import recall_at_fpr
from links_app.scanner.model import WEIGHTS_PATH
from links_app.scanner.normalize import normalize_parts
from links_app.scanner.rules import run_rules
from links_app.scanner.scoring import combined_risk
from links_app.scanner.urlview import UrlView

DEFAULT_DATA = Path("/work/shared/data/urls-dev.csv")
MIN_DOMAINS = 3
REGULARISATION_C = 0.5
PRUNE_BELOW = 0.005  # weights this small change no score visibly; dropping them keeps the file small
SEED = 20240611


def load_rows(path: Path):
    """Feature rows: (token set, numeric list, group, label, findings); invalid URLs are counted and skipped."""
    rows, invalid = [], 0
    with path.open(newline="", encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            try:
                view = UrlView(normalize_parts(record["url"]), record["url"])
            except InvalidURL:
                invalid += 1
                continue
            findings = run_rules(view)
            tokens = token_features(view, (f.code for f in findings))
            group = view.domain.registered_domain or view.parts.host.host
            rows.append((tokens, numeric_features(view), group, record["label"] == "malicious", findings))
    return rows, invalid


def choose_vocabulary(rows, indices) -> dict[str, int]:
    """Tokens seen on >= MIN_DOMAINS distinct registered domains of the given rows."""
    domains_per_token: dict[str, set[str]] = {}
    for i in indices:
        tokens, _, group, _, _ = rows[i]
        for token in tokens:
            domains_per_token.setdefault(token, set()).add(group)
    kept = sorted(t for t, groups in domains_per_token.items() if len(groups) >= MIN_DOMAINS)
    return {token: column for column, token in enumerate(kept)}


def design_matrix(rows, indices, vocabulary, means, scales):
    """Sparse binary token columns followed by standardised numeric columns."""
    data, cols, indptr = [], [], [0]
    width = len(vocabulary)
    for i in indices:
        tokens, numbers, _, _, _ = rows[i]
        for token in tokens:
            column = vocabulary.get(token)
            if column is not None:
                cols.append(column)
                data.append(1.0)
        for offset, value in enumerate(numbers):
            cols.append(width + offset)
            data.append((value - means[offset]) / scales[offset])
        indptr.append(len(cols))
    return sparse.csr_matrix((data, cols, indptr), shape=(len(indices), width + len(NUMERIC_FEATURES)))


def fit(rows, indices):
    """Fit on ``indices``; return (model, vocabulary, means, scales)."""
    vocabulary = choose_vocabulary(rows, indices)
    numbers = np.array([rows[i][1] for i in indices])
    means, scales = numbers.mean(axis=0), numbers.std(axis=0) + 1e-6
    matrix = design_matrix(rows, indices, vocabulary, means, scales)
    labels = np.array([rows[i][3] for i in indices])
    model = LogisticRegression(C=REGULARISATION_C, solver="liblinear", max_iter=2000)
    model.fit(matrix, labels)
    return model, vocabulary, means, scales


def cross_validate(rows, folds: int = 5):
    """Out-of-fold model probabilities and combined risks (model + rule floors)."""
    labels = np.array([row[3] for row in rows])
    groups = np.array([row[2] for row in rows])
    model_oof, combined_oof = np.zeros(len(rows)), np.zeros(len(rows))
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=SEED)
    for train, test in splitter.split(np.zeros(len(rows)), labels, groups):
        model, vocabulary, means, scales = fit(rows, train)
        probabilities = model.predict_proba(design_matrix(rows, test, vocabulary, means, scales))[:, 1]
        model_oof[test] = probabilities
        combined_oof[test] = [combined_risk(p, rows[i][4]) for p, i in zip(probabilities, test, strict=True)]
    return labels, model_oof, combined_oof


def report(name: str, labels, risks) -> dict[str, float]:
    """Print and return AUC and recall at 1% / 2% false-positive rate."""
    figures = {
        "roc_auc": round(float(roc_auc_score(labels, risks)), 4),
        "recall_at_1pct_fpr": round(recall_at_fpr(list(labels), list(risks), 0.01), 4),
        "recall_at_2pct_fpr": round(recall_at_fpr(list(labels), list(risks), 0.02), 4),
    }
    print(f"{name:<34} AUC {figures['roc_auc']:.4f}  recall@1%FPR {figures['recall_at_1pct_fpr']:.1%}  recall@2%FPR {figures['recall_at_2pct_fpr']:.1%}")
    return figures


def export(model, vocabulary, means, scales, metadata, path: Path) -> None:
    """Write the pruned weights as JSON the runtime scores without numpy."""
    coefficients = model.coef_[0]
    width = len(vocabulary)
    token_weights = {
        token: round(float(coefficients[column]), 4)
        for token, column in vocabulary.items()
        if abs(coefficients[column]) >= PRUNE_BELOW
    }
    payload = {
        "format": 1,
        "bias": round(float(model.intercept_[0]), 4),
        "numeric_features": list(NUMERIC_FEATURES),
        "numeric_means": [round(float(v), 6) for v in means],
        "numeric_scales": [round(float(v), 6) for v in scales],
        "numeric_weights": [round(float(v), 4) for v in coefficients[width:]],
        "token_weights": dict(sorted(token_weights.items())),
        "metadata": metadata,
    }
    path.write_text(json.dumps(payload, separators=(",", ":"), sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB, {len(token_weights)} token weights)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--output", type=Path, default=WEIGHTS_PATH)
    parser.add_argument("--no-write", action="store_true", help="only report cross-validated figures")
    args = parser.parse_args()
    started = time.perf_counter()
    rows, invalid = load_rows(args.data)
    counts = Counter("malicious" if row[3] else "benign" for row in rows)
    print(f"{len(rows)} URLs ({dict(counts)}), {invalid} rejected by normalisation, {len({r[2] for r in rows})} registered domains")
    labels, model_oof, combined_oof = cross_validate(rows)
    model_figures = report("5-fold grouped CV, model only", labels, model_oof)
    combined_figures = report("5-fold grouped CV, model + rules", labels, combined_oof)
    if args.no_write:
        return
    model, vocabulary, means, scales = fit(rows, range(len(rows)))
    metadata = {
        "trained_on": args.data.name, "rows": len(rows), "min_domains_per_token": MIN_DOMAINS,
        "C": REGULARISATION_C, "cv": "5-fold StratifiedGroupKFold by registered domain",
        "cv_model_only": model_figures, "cv_model_plus_rules": combined_figures,
    }
    export(model, vocabulary, means, scales, metadata, args.output)
    print(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
