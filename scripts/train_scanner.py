"""Train the scanner's model (lexical logistic regression + stacked trees) and report CV quality.

    python3.11 -m venv /tmp/train-venv && /tmp/train-venv/bin/pip install -r requirements-train.txt
    /tmp/train-venv/bin/python scripts/train_scanner.py [/work/shared/data/urls-dev.csv]

(a virtualenv of its own: docs/scanner.md, "Retraining")

Two stages, both scored in pure Python at run time (``links_app/scanner/model.py``):

1. A logistic regression over named tokens (char n-grams, words, rule codes …)
   plus a few scaled counts. A token is kept only if it occurs on at least
   MIN_DOMAINS registered domains, so the model cannot memorise single sites.
2. A small gradient-boosted tree ensemble over structural counts
   (``structure.py``), the suffix's smoothed share of malicious registered
   domains, the per-site evidence of the site label's trigrams and the path's
   words (``site_evidence.py``), and the regression's log-odds and its host
   and path parts. The trees are trained on *out-of-fold* values of all of
   these (domain-grouped folds),
   so they learn how far to trust them on sites they never saw, not on sites
   they memorised.

Each URL is weighted by 1/sqrt(URLs on its registered domain) in both stages.

The final log-odds blend both stages (LEXICAL_SHARE). Two cross-validations of
the full score (model + rule floors, what safety_score is built from) are
printed: plain 5-fold and 5-fold grouped by registered domain — the grouped
one is the honest estimate for new sites and other data sets. Then every row
is used to fit the shipped model, links_app/scanner/model_weights.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from links_app.scanner import InvalidURL
from links_app.scanner.allowlist import COMMON_DOMAIN_RISK_CAP, common_domain_finding
from links_app.scanner.features import (
    HOST_TOKEN_PREFIXES,
    NUMERIC_FEATURES,
    PATH_TOKEN_PREFIXES,
    numeric_features,
    token_features,
)
from links_app.scanner.metrics import recall_at_fpr
from links_app.scanner.model import LEXICAL_SHARE, STACKED_FEATURES, TREE_INPUTS, WEIGHTS_PATH
from links_app.scanner.normalize import normalize_parts
from links_app.scanner.redirects import redirect_destination
from links_app.scanner.rules import run_rules
from links_app.scanner.scoring import combined_risk
from links_app.scanner.site_evidence import (
    EVIDENCE_FEATURES,
    EVIDENCE_PARTS,
    EvidenceTable,
    evidence_tokens,
    log_likelihood_ratio,
    site_key,
)
from links_app.scanner.structure import structure_features, suffix_key
from links_app.scanner.urlview import UrlView

DEFAULT_DATA = Path("/work/shared/data/urls-dev.csv")
MIN_DOMAINS = 3
REGULARISATION_C = 0.5  # C = 1 or 2 gained nothing under grouped CV
PRUNE_BELOW = 0.005  # weights this small change no score visibly; dropping them keeps the file small
INNER_FOLDS = 3  # folds for the out-of-fold log-odds the trees learn from
# 400 trees on 60% subsamples: out-of-fold on cached stage-1 log-odds this beat
# 100 trees / 0.8 in plain recall@2% (+0.7 to +1.0 points over three seeds)
# without lowering grouped AUC; depth 4-5 or a learning rate of 0.05 were no better.
TREE_PARAMS = {"n_estimators": 400, "max_depth": 3, "learning_rate": 0.1, "subsample": 0.6, "random_state": 0}
SEED = 20240611
# Each URL weighs 1/sqrt(URLs of its registered domain): a domain with hundreds
# of URLs (a hosting platform, one phishing campaign) still counts more than a
# single-URL site, but no longer drowns the thousands of sites seen once, which
# is what new links mostly are. Power 1 (every domain equal) was worse.
DOMAIN_WEIGHT_POWER = 0.5
# The suffix's share of malicious registered domains is pulled towards the overall
# share as if this many more domains had been seen with it.
SUFFIX_RISK_STRENGTH = 10.0


class Dataset:
    """Every URL's features, with tokens as one sparse matrix over all tokens seen."""

    def __init__(self, path: Path) -> None:
        token_sets, numbers, structure, groups, labels, self.findings = [], [], [], [], [], []
        suffixes, self.evidence, sites, hosts = [], [], [], []
        destinations: list[tuple[int, UrlView]] = []
        self.invalid = 0
        with path.open(newline="", encoding="utf-8") as handle:
            for record in csv.DictReader(handle):
                try:
                    view = UrlView(normalize_parts(record["url"]), record["url"])
                except InvalidURL:
                    self.invalid += 1
                    continue
                findings = run_rules(view)
                token_sets.append(token_features(view, (f.code for f in findings)))
                numbers.append(numeric_features(view))
                structure.append(structure_features(view, findings))
                groups.append(view.domain.registered_domain or view.parts.host.host)
                hosts.append(view.host_without_www)
                suffixes.append(suffix_key(view))
                self.evidence.append(evidence_tokens(view))
                sites.append(site_key(view))
                labels.append(record["label"] == "malicious")
                self.findings.append(findings)
                destination = redirect_destination(view)
                if destination is not None:
                    destinations.append((len(labels) - 1, destination))
        # Forwarders and sign-in pages are judged by their destination at run time (scan.py),
        # so the CV scores each destination with the fold's model. The destinations get
        # feature rows after the labelled ones; they are never trained on.
        self.destination_row: dict[int, int] = {}
        self.destination_findings: dict[int, list] = {}
        self.destination_covered: dict[int, bool] = {}
        for row, destination in destinations:
            findings = run_rules(destination)
            extra = len(token_sets)
            self.destination_row[row] = extra
            self.destination_findings[extra] = findings
            self.destination_covered[extra] = common_domain_finding(destination, findings) is not None
            token_sets.append(token_features(destination, (f.code for f in findings)))
            numbers.append(numeric_features(destination))
            structure.append(structure_features(destination, findings))
            suffixes.append(suffix_key(destination))
            self.evidence.append(evidence_tokens(destination))
        self.numbers, self.structure = np.array(numbers), np.array(structure)
        self.groups, self.labels = np.array(groups), np.array(labels)
        self.hosts = np.array(hosts)
        self.suffixes, self.sites = np.array(suffixes), np.array(sites)
        self.tokens: dict[str, int] = {}
        rows, cols = [], []
        # sorted, so columns are numbered alike in every process (a set's order follows the hash seed)
        for row, tokens in enumerate(token_sets):
            for token in sorted(tokens):
                cols.append(self.tokens.setdefault(token, len(self.tokens)))
                rows.append(row)
        self.matrix = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(token_sets), len(self.tokens))
        )
        _, self.group_ids = np.unique(self.groups, return_inverse=True)
        # per token column: 0 host token, 1 path token, 2 other (as model.lexical_parts splits them)
        self.token_part = np.full(len(self.tokens), 2)
        for token, column in self.tokens.items():
            if token.startswith(HOST_TOKEN_PREFIXES):
                self.token_part[column] = 0
            elif token.startswith(PATH_TOKEN_PREFIXES):
                self.token_part[column] = 1
        self.weights = 1.0 / np.bincount(self.group_ids)[self.group_ids] ** DOMAIN_WEIGHT_POWER

    def sample_weights(self, rows) -> np.ndarray:
        """Domain weights of ``rows``, scaled to mean 1 so C means what it meant unweighted."""
        weights = self.weights[rows]
        return weights * len(weights) / weights.sum()

    def vocabulary_columns(self, train) -> np.ndarray:
        """Token columns present on >= MIN_DOMAINS distinct registered domains of ``train``."""
        membership = sparse.csr_matrix((np.ones(len(train)), (self.group_ids[train], np.arange(len(train)))))
        per_group = membership @ self.matrix[train]
        per_group.data[:] = 1
        return np.flatnonzero(np.asarray(per_group.sum(axis=0)).ravel() >= MIN_DOMAINS)


class Lexical:
    """Stage 1: logistic regression over the vocabulary of its training rows."""

    def __init__(self, data: Dataset, train) -> None:
        self.data, self.columns = data, data.vocabulary_columns(train)
        self.means, self.scales = data.numbers[train].mean(axis=0), data.numbers[train].std(axis=0) + 1e-6
        self.model = LogisticRegression(C=REGULARISATION_C, solver="newton-cg", max_iter=500)
        self.model.fit(self._design(train), data.labels[train], sample_weight=data.sample_weights(train))

    def _design(self, rows):
        scaled = (self.data.numbers[rows] - self.means) / self.scales
        return sparse.hstack([self.data.matrix[rows][:, self.columns], sparse.csr_matrix(scaled)]).tocsr()

    def log_odds(self, rows) -> np.ndarray:
        return self.model.decision_function(self._design(rows))

    def stacked(self, rows) -> np.ndarray:
        """What the trees see of this stage (STACKED_FEATURES): host part, path part, log-odds."""
        tokens = self.data.matrix[rows][:, self.columns]
        weights = self.model.coef_[0][: len(self.columns)]
        parts = self.data.token_part[self.columns]
        host, path = (tokens @ np.where(parts == part, weights, 0.0) for part in (0, 1))
        return np.column_stack([host, path, self.log_odds(rows)])


class SuffixRisk:
    """Per suffix, the smoothed share of malicious registered domains among ``rows``.

    Each domain counts once (by its share of malicious URLs), so one campaign's
    hundreds of URLs do not paint its suffix.
    """

    def __init__(self, data: Dataset, rows) -> None:
        groups = data.group_ids[rows]
        size = data.group_ids.max() + 1
        malicious = np.bincount(groups, weights=data.labels[rows].astype(float), minlength=size)
        share = malicious / np.maximum(np.bincount(groups, minlength=size), 1)
        suffix_of = {group: data.suffixes[row] for row, group in zip(rows, groups, strict=True)}
        totals: dict[str, list[float]] = {}
        for group, suffix in suffix_of.items():
            total = totals.setdefault(suffix, [0.0, 0])
            total[0] += share[group]
            total[1] += 1
        self.prior = float(share[list(suffix_of)].mean())
        self.table = {
            suffix: (total + SUFFIX_RISK_STRENGTH * self.prior) / (count + SUFFIX_RISK_STRENGTH)
            for suffix, (total, count) in totals.items()
        }

    def of(self, data: Dataset, rows) -> np.ndarray:
        return np.array([self.table.get(data.suffixes[row], self.prior) for row in rows])


class SiteEvidence:
    """Per part (site label trigrams, path words): on how many malicious and benign sites of
    ``rows`` each token occurs, each site once (``site_evidence.py``)."""

    def __init__(self, data: Dataset, rows) -> None:
        per_site: dict[tuple[str, bool], list[set[str]]] = {}
        for row in rows:
            tokens = per_site.setdefault(
                (data.sites[row], bool(data.labels[row])), [set() for _ in EVIDENCE_PARTS]
            )
            for part, part_tokens in zip(tokens, data.evidence[row], strict=True):
                part |= part_tokens
        self.tables = []
        malicious_sites = sum(1 for _, label in per_site if label)
        benign_sites = len(per_site) - malicious_sites
        for index in range(len(EVIDENCE_PARTS)):
            counts: dict[str, list[int]] = {}
            for (_, label), tokens in per_site.items():
                for token in tokens[index]:
                    counts.setdefault(token, [0, 0])[0 if label else 1] += 1
            self.tables.append(
                {
                    "malicious_sites": malicious_sites,
                    "benign_sites": benign_sites,
                    "llr": {
                        token: round(log_likelihood_ratio(m, b, malicious_sites, benign_sites), 4)
                        for token, (m, b) in sorted(counts.items())
                    },
                }
            )
        self.runtime = [EvidenceTable(table) for table in self.tables]

    def of(self, data: Dataset, rows) -> np.ndarray:
        return np.array(
            [
                [
                    value
                    for table, tokens in zip(self.runtime, data.evidence[row], strict=True)
                    for value in table.values(tokens)
                ]
                for row in rows
            ]
        ).reshape(len(rows), len(EVIDENCE_FEATURES))

    def export(self) -> dict:
        return dict(zip(EVIDENCE_PARTS, self.tables, strict=True))


def grouped_folds(data: Dataset, rows, folds: int, seed: int = SEED, by_host: bool = False):
    """Folds whose test rows share no registered domain (or, ``by_host``, no host) with training."""
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    groups = (data.hosts if by_host else data.groups)[rows]
    return [(rows[a], rows[b]) for a, b in splitter.split(np.zeros(len(rows)), data.labels[rows], groups)]


def fit(data: Dataset, train):
    """Both stages on ``train``: the trees see out-of-fold (grouped) suffix risks, site
    evidence and log-odds."""
    evidence = 1 + len(EVIDENCE_FEATURES)
    out_of_fold = np.zeros((len(data.labels), evidence + len(STACKED_FEATURES)))
    for inner_train, inner_test in grouped_folds(data, train, INNER_FOLDS, seed=SEED + 1):
        out_of_fold[inner_test, 0] = SuffixRisk(data, inner_train).of(data, inner_test)
        out_of_fold[inner_test, 1:evidence] = SiteEvidence(data, inner_train).of(data, inner_test)
        out_of_fold[inner_test, evidence:] = Lexical(data, inner_train).stacked(inner_test)
    trees = GradientBoostingClassifier(**TREE_PARAMS)
    trees.fit(
        np.column_stack([data.structure[train], out_of_fold[train]]),
        data.labels[train],
        sample_weight=data.sample_weights(train),
    )
    return Lexical(data, train), SuffixRisk(data, train), SiteEvidence(data, train), trees


def predict_log_odds(data: Dataset, model, rows) -> np.ndarray:
    lexical, suffix_risk, site_evidence, trees = model
    stacked = lexical.stacked(rows)
    inputs = np.column_stack(
        [data.structure[rows], suffix_risk.of(data, rows), site_evidence.of(data, rows), stacked]
    )
    tree_log_odds = trees.decision_function(inputs)
    return LEXICAL_SHARE * stacked[:, -1] + (1 - LEXICAL_SHARE) * tree_log_odds


def cross_validate(data: Dataset, grouped: bool, seed: int = SEED, by_host: bool = False) -> np.ndarray:
    """Out-of-fold full risks (model probability lifted by the rule floors).

    ``seed`` draws the outer folds only; the inner folds and the trees' subsamples keep theirs,
    so two fold seeds measure how much a figure depends on the fold assignment. ``by_host``
    groups the outer folds by host instead of registered domain: new hosts on known domains
    (another user's site on a known platform), as in a test set whose hosts are disjoint from
    the training file's."""
    rows = np.arange(len(data.labels))
    if grouped:
        folds = grouped_folds(data, rows, 5, seed=seed, by_host=by_host)
    else:
        folds = list(StratifiedKFold(n_splits=5, shuffle=True, random_state=seed).split(rows, data.labels))
    risks = np.zeros(len(rows))
    for train, test in folds:
        # clipped like the runtime (model.py), which also avoids overflow in exp
        model = fit(data, train)
        log_odds = predict_log_odds(data, model, test)
        probabilities = 1 / (1 + np.exp(-np.clip(log_odds, -30, 30)))
        risks[test] = [combined_risk(p, data.findings[i]) for p, i in zip(probabilities, test, strict=True)]
        forwarded = [row for row in test if row in data.destination_row]
        if forwarded:
            risks[forwarded] = destination_risks(data, model, forwarded)
    return risks


def destination_risks(data: Dataset, model, rows) -> list[float]:
    """The risks of forwarders and sign-in pages as scan_url makes them: the destination's
    risk (model capped by the allow-list, lifted by its floors), lifted by the link's own floors."""
    extra = np.array([data.destination_row[row] for row in rows])
    log_odds = predict_log_odds(data, model, extra)
    risks = []
    for row, destination, p in zip(rows, extra, 1 / (1 + np.exp(-np.clip(log_odds, -30, 30))), strict=True):
        probability = min(p, COMMON_DOMAIN_RISK_CAP) if data.destination_covered[destination] else p
        destination_risk = combined_risk(probability, data.destination_findings[destination])
        risks.append(combined_risk(destination_risk, data.findings[row]))
    return risks


def report(name: str, labels, risks) -> dict[str, float]:
    """Print and return AUC and recall at 1% / 2% false-positive rate."""
    figures = {
        "roc_auc": round(float(roc_auc_score(labels, risks)), 4),
        "recall_at_1pct_fpr": round(recall_at_fpr(list(labels), list(risks), 0.01), 4),
        "recall_at_2pct_fpr": round(recall_at_fpr(list(labels), list(risks), 0.02), 4),
    }
    print(
        f"{name:<36} AUC {figures['roc_auc']:.4f}  recall@1%FPR {figures['recall_at_1pct_fpr']:.1%}  recall@2%FPR {figures['recall_at_2pct_fpr']:.1%}",
        flush=True,
    )
    return figures


def export_trees(trees) -> dict:
    """sklearn's trees as flat lists (see trees.py); leaf values pre-multiplied by the learning rate."""
    prior = float(trees.init_.class_prior_[1])
    exported = []
    for estimator in trees.estimators_[:, 0]:
        tree = estimator.tree_
        is_leaf = tree.children_left == -1
        exported.append(
            {
                "feature": [
                    int(f) if not leaf else -1 for f, leaf in zip(tree.feature, is_leaf, strict=True)
                ],
                "threshold": [
                    round(float(t), 6) if not leaf else 0
                    for t, leaf in zip(tree.threshold, is_leaf, strict=True)
                ],
                "left": [int(v) for v in tree.children_left],
                "right": [int(v) for v in tree.children_right],
                "value": [
                    round(float(v) * trees.learning_rate, 6) if leaf else 0
                    for v, leaf in zip(tree.value[:, 0, 0], is_leaf, strict=True)
                ],
            }
        )
    return {
        "features": list(TREE_INPUTS),
        "base": round(float(np.log(prior / (1 - prior))), 6),
        "trees": exported,
    }


def export(data: Dataset, model, metadata, path: Path) -> None:
    """Write the pruned weights and the trees as JSON the runtime scores without numpy."""
    lexical, suffix_risk, site_evidence, trees = model
    coefficients = lexical.model.coef_[0]
    names = {column: token for token, column in data.tokens.items()}
    token_weights = {
        names[column]: round(float(coefficients[position]), 4)
        for position, column in enumerate(lexical.columns)
        if abs(coefficients[position]) >= PRUNE_BELOW
    }
    width = len(lexical.columns)
    payload = {
        "format": 2,
        "bias": round(float(lexical.model.intercept_[0]), 4),
        "numeric_features": list(NUMERIC_FEATURES),
        "numeric_means": [round(float(v), 6) for v in lexical.means],
        "numeric_scales": [round(float(v), 6) for v in lexical.scales],
        "numeric_weights": [round(float(v), 4) for v in coefficients[width:]],
        "token_weights": dict(sorted(token_weights.items())),
        "suffix_risk": {
            "prior": round(suffix_risk.prior, 6),
            "by_suffix": {k: round(float(v), 6) for k, v in sorted(suffix_risk.table.items())},
        },
        "site_evidence": site_evidence.export(),
        "trees": export_trees(trees),
        "metadata": metadata,
    }
    path.write_text(json.dumps(payload, separators=(",", ":")) + "\n", encoding="utf-8")
    print(
        f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB, {len(token_weights)} token weights, {len(trees.estimators_)} trees)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--output", type=Path, default=WEIGHTS_PATH)
    parser.add_argument("--no-write", action="store_true", help="only report cross-validated figures")
    parser.add_argument(
        "--risks-output",
        type=Path,
        help="also write the out-of-fold risks (plain and grouped CV) as JSON, for choosing operating points",
    )
    parser.add_argument(
        "--fold-seed", type=int, default=SEED, help="seed of the outer CV folds (default %(default)s)"
    )
    parser.add_argument(
        "--group-by-host",
        action="store_true",
        help="group the outer folds of the grouped CV by host instead of registered domain",
    )
    parser.add_argument(
        "--grouped-only",
        action="store_true",
        help="skip the plain CV (its risks are written as the grouped ones); implies --no-write",
    )
    args = parser.parse_args()
    if args.grouped_only:
        args.no_write = True
    started = time.perf_counter()
    data = Dataset(args.data)
    malicious = int(data.labels.sum())
    print(
        f"{len(data.labels)} URLs ({malicious} malicious), {data.invalid} rejected by normalisation, {len(set(data.groups))} registered domains"
    )
    grouped_risks = cross_validate(data, grouped=True, seed=args.fold_seed, by_host=args.group_by_host)
    plain_risks = grouped_risks if args.grouped_only else cross_validate(data, False, args.fold_seed)
    figures = {
        "grouped_5fold_model_plus_rules": report(
            f"grouped 5-fold CV{' (by host)' if args.group_by_host else ''}, model + rules",
            data.labels,
            grouped_risks,
        ),
    }
    if not args.grouped_only:
        figures["random_5fold_model_plus_rules"] = report(
            "plain 5-fold CV, model + rules", data.labels, plain_risks
        )
    if args.risks_output:
        args.risks_output.write_text(
            json.dumps(
                {
                    "labels": [bool(v) for v in data.labels],
                    "groups": [str(v) for v in data.groups],
                    "plain": [round(float(v), 6) for v in plain_risks],
                    "grouped": [round(float(v), 6) for v in grouped_risks],
                }
            ),
            encoding="utf-8",
        )
        print(f"wrote out-of-fold risks to {args.risks_output}")
    if args.no_write:
        return
    model = fit(data, np.arange(len(data.labels)))
    metadata = {
        "trained_on": args.data.name,
        "rows": len(data.labels),
        "min_domains_per_token": MIN_DOMAINS,
        "C": REGULARISATION_C,
        "domain_weight_power": DOMAIN_WEIGHT_POWER,
        "trees": {k: v for k, v in TREE_PARAMS.items() if k != "random_state"},
        "lexical_share": LEXICAL_SHARE,
        "suffix_risk_strength": SUFFIX_RISK_STRENGTH,
        "cv": figures,
    }
    export(data, model, metadata, args.output)
    print(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
