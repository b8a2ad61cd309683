"""Choose the scanner's thresholds on out-of-fold risks and print what they do.

    /tmp/train-venv/bin/python scripts/train_scanner.py --no-write --risks-output /tmp/oof.json
    .venv/bin/python scripts/choose_operating_points.py /tmp/oof.json [/work/shared/data/urls-dev.csv]

The thresholds come from the domain-grouped cross-validation (test URLs on
registered domains the fold's model never saw), the honest stand-in for other
data sets: "malicious" (which flags posts) at the lowest risk that flags at
most MALICIOUS_FPR of benign URLs, "at least suspicious" at most
SUSPICIOUS_FPR. For each split it prints the confusion matrix at those
thresholds and the reliability table. With the data file, the allow-list of
common domains (allowlist.py) is applied as the scanner does: it caps the risk
of URLs it covers, which carry no high finding, so no floor is involved.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from links_app.scanner.allowlist import COMMON_DOMAIN_RISK_CAP, common_domain_finding
from links_app.scanner.metrics import recall_at_fpr, reliability_table, roc_auc, threshold_for_fpr
from links_app.scanner.normalize import normalize_parts
from links_app.scanner.redirects import redirect_destination
from links_app.scanner.results import Finding
from links_app.scanner.rules import run_rules
from links_app.scanner.scoring import (
    MALICIOUS_RISK,
    ONE_HIGH_FLOOR,
    SUSPICIOUS_RISK,
    TWO_HIGH_FLOOR,
    combined_risk,
    configure_thresholds,
)
from links_app.scanner.urlview import UrlView

MALICIOUS_FPR = 0.01
SUSPICIOUS_FPR = 0.03
EDGES = [step / 10 for step in range(11)]


def scan_rules(path: Path) -> tuple[list[bool], list[int]]:
    """For each row of the data file (in the training script's order): whether the allow-list
    applies, and how many high findings the rules raise."""
    covered, highs = [], []
    with path.open(newline="", encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            view = UrlView(normalize_parts(record["url"]), record["url"])
            findings = run_rules(view)
            # a forwarder is judged by its destination, whose allow-list the training run applied
            covered.append(
                redirect_destination(view) is None and common_domain_finding(view, findings) is not None
            )
            highs.append(sum(1 for f in findings if f.severity == "high"))
    return covered, highs


def refloor(risk: float, high: int) -> float:
    """The risk as the runtime makes it with the thresholds configured now. The stored
    risks were lifted by the floors of the training run, which ran with the shipped
    thresholds, so its floors were max(0.55, suspicious) and max(0.85, malicious)."""
    if high == 0:
        return risk
    old = max(TWO_HIGH_FLOOR, MALICIOUS_RISK) if high >= 2 else max(ONE_HIGH_FLOOR, SUSPICIOUS_RISK)
    probability = max(0.0, (risk - old) / (1 - old))
    return combined_risk(probability, [Finding("x", "high", "")] * min(high, 2))


def capped(risks: list[float], covered: list[bool] | None) -> list[float]:
    """The risks as the scanner gives them once the allow-list has capped the URLs it covers."""
    if covered is None:
        return risks
    return [min(r, COMMON_DOMAIN_RISK_CAP) if c else r for r, c in zip(risks, covered, strict=True)]


def picks(labels: list[bool], risks: list[float]) -> tuple[float, float]:
    """The lowest malicious and suspicious thresholds within the budgets, on these risks."""
    malicious = threshold_for_fpr(labels, risks, MALICIOUS_FPR)
    return malicious, min(threshold_for_fpr(labels, risks, SUSPICIOUS_FPR), malicious)


def describe(name: str, labels: list[bool], risks: list[float], malicious: float, suspicious: float) -> dict:
    benign = labels.count(False)
    positives = len(labels) - benign

    def count(label: bool, low: float, high: float = 2.0) -> int:
        return sum(1 for r, lab in zip(risks, labels, strict=True) if lab == label and low <= r < high)

    def share(label: bool, low: float, high: float = 2.0) -> float:
        return count(label, low, high) / (positives if label else benign)

    figures = {
        "roc_auc": round(roc_auc(labels, risks), 4),
        "recall_at_1pct_fpr": round(recall_at_fpr(labels, risks, 0.01), 4),
        "recall_at_2pct_fpr": round(recall_at_fpr(labels, risks, 0.02), 4),
        "benign_malicious": round(share(False, malicious), 4),
        "benign_suspicious": round(share(False, suspicious, malicious), 4),
        "malicious_recall": round(share(True, malicious), 4),
        "malicious_at_least_suspicious": round(share(True, suspicious), 4),
    }
    print(
        f"\n== {name}: AUC {figures['roc_auc']:.4f}, recall@1% {figures['recall_at_1pct_fpr']:.1%}, "
        f"recall@2% {figures['recall_at_2pct_fpr']:.1%}"
    )
    print(
        f"benign:    malicious {figures['benign_malicious']:.2%}, suspicious {figures['benign_suspicious']:.2%}"
    )
    print(
        f"malicious: malicious {figures['malicious_recall']:.1%}, "
        f"at least suspicious {figures['malicious_at_least_suspicious']:.1%}"
    )
    for label, word in ((False, "benign"), (True, "malicious")):
        print(
            f"{word} URLs called safe / suspicious / malicious: {count(label, 0.0, suspicious)} / "
            f"{count(label, suspicious, malicious)} / {count(label, malicious)}"
        )
    print(f"{'safety score':>12} {'URLs':>6} {'malicious':>9} {'said risk':>9} {'observed':>8}")
    for band in reversed(reliability_table(labels, risks, EDGES)):
        top, bottom = 100 - round(band["low"] * 100), 100 - round(band["high"] * 100) + (band["high"] < 1)
        print(
            f"{bottom:>5}-{top:<6} {band['count']:>6} {band['malicious']:>9} "
            f"{band['mean_risk']:>9.1%} {band['observed']:>8.1%}"
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("risks", type=Path, help="JSON written by train_scanner.py --risks-output")
    parser.add_argument(
        "data", nargs="?", type=Path, help="the CSV the risks came from, to apply the allow-list"
    )
    parser.add_argument(
        "--malicious", type=float, help="report at these thresholds (e.g. the rounded shipped ones)"
    )
    parser.add_argument("--suspicious", type=float)
    parser.add_argument(
        "--also",
        type=Path,
        action="append",
        default=[],
        help="risks of the same data on other fold seeds (train_scanner.py --fold-seed): print each one's picks too",
    )
    args = parser.parse_args()
    stored = json.loads(args.risks.read_text(encoding="utf-8"))
    labels = stored["labels"]
    splits = {"plain 5-fold": stored["plain"], "grouped 5-fold": stored["grouped"]}
    covered = None
    if args.data:
        covered, highs = scan_rules(args.data)
        if len(covered) != len(labels):
            raise SystemExit(f"{args.data} has {len(covered)} rows, the risks {len(labels)}")
        print(
            f"allow-list covers {sum(covered)} URLs: {sum(c and not lab for c, lab in zip(covered, labels, strict=True))} benign,"
            f" {sum(c and lab for c, lab in zip(covered, labels, strict=True))} malicious"
        )
        splits = {name: capped(risks, covered) for name, risks in splits.items()}
    malicious, suspicious = picks(labels, splits["grouped 5-fold"])
    print(f"thresholds from grouped CV: malicious risk >= {malicious:.4f}, suspicious >= {suspicious:.4f}")
    if args.also:
        # A pick depends on the fold assignment. The shipped defaults are the mean of the seeds'
        # picks rounded up to two decimals (docs/scanner.md, "Operating points"); the largest
        # keeps the budgets on every seed given.
        seeds = [(malicious, suspicious)]
        for path in args.also:
            other = json.loads(path.read_text(encoding="utf-8"))
            if other["labels"] != labels:
                raise SystemExit(f"{path} holds other rows than {args.risks}")
            seeds.append(picks(labels, capped(other["grouped"], covered)))
            print(f"  {path}: malicious risk >= {seeds[-1][0]:.4f}, suspicious >= {seeds[-1][1]:.4f}")
        print(
            f"mean over {len(seeds)} fold seeds: malicious risk >= {sum(p[0] for p in seeds) / len(seeds):.4f}, "
            f"suspicious >= {sum(p[1] for p in seeds) / len(seeds):.4f}"
        )
        print(
            f"largest over {len(seeds)} fold seeds: malicious risk >= {max(p[0] for p in seeds):.4f}, "
            f"suspicious >= {max(p[1] for p in seeds):.4f} (the figures below are the first file's)"
        )
    if args.malicious is not None:
        malicious, suspicious = args.malicious, args.suspicious
        print(f"figures at the thresholds given: malicious >= {malicious}, suspicious >= {suspicious}")
    if args.data:
        # the floors of high findings follow the thresholds, as at run time
        configure_thresholds(malicious=malicious, suspicious=suspicious)
        splits = {
            name: [refloor(r, h) for r, h in zip(risks, highs, strict=True)] for name, risks in splits.items()
        }
    for name, risks in splits.items():
        describe(name, labels, risks, malicious, suspicious)


if __name__ == "__main__":
    main()
