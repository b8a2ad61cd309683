"""``python manage.py evaluate_scanner FILE.csv``: measure the offline scanner on labelled URLs."""

from __future__ import annotations

import csv
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from links_app.scanner import InvalidURL, scan_url
from links_app.scanner.metrics import confusion_table, recall_at_fpr, reliability_table, roc_auc
from links_app.scanner.scoring import thresholds

# Labels used by common public URL data sets, mapped to ours.
MALICIOUS_LABELS = {"malicious", "phishing", "malware", "bad", "1", "defacement", "spam", "true"}
BENIGN_LABELS = {"benign", "legitimate", "good", "0", "safe", "false"}
VERDICT_COLUMNS = ("safe", "suspicious", "malicious", "rejected")
# Risk bands of the reliability table: ten safety-score bands of 10 points.
RELIABILITY_EDGES = [step / 10 for step in range(11)]


def score_band(low: float, high: float) -> str:
    """The safety scores a risk band [low, high) holds (the last band includes risk 1, score 0)."""
    top = 100 - round(low * 100)
    bottom = 100 - round(high * 100) + (0 if high == 1.0 else 1)
    return f"{bottom}-{top}"


def reliability_lines(labels, risks) -> list[str]:
    """The reliability table: per safety-score band, URLs, the risk the scanner gave and the share malicious."""
    lines = [f"{'safety score':>12} {'URLs':>7} {'malicious':>10} {'said risk':>10} {'observed':>9}"]
    for band in reversed(reliability_table(labels, risks, RELIABILITY_EDGES)):
        if band["count"]:
            lines.append(
                f"{score_band(band['low'], band['high']):>12} {band['count']:>7} {band['malicious']:>10}"
                f" {band['mean_risk']:>10.1%} {band['observed']:>9.1%}"
            )
    return lines


class Command(BaseCommand):
    help = "Scan every URL of a labelled CSV (url,label) and print ROC AUC, recall at 1%/2% FPR, verdicts and throughput."

    def add_arguments(self, parser):
        parser.add_argument("csv_file", type=Path)
        parser.add_argument("--url-column", default="url")
        parser.add_argument("--label-column", default="label")
        parser.add_argument(
            "--assume-scheme",
            default="http",
            choices=("http", "https", "none"),
            help="scheme to add to rows without one (many public sets strip it); 'none' rejects them",
        )

    def handle(self, *args, **options):
        rows = self._read_rows(options)
        labels, risks, model_risks, verdicts = [], [], [], []
        rejected = 0
        started = time.perf_counter()
        for url, is_malicious in tqdm(rows, desc="scanning", unit="url"):
            try:
                result = scan_url(url, providers=[])
            except InvalidURL:
                # The platform refuses these links, so they count as least safe.
                rejected += 1
                risks.append(100)
                model_risks.append(1.0)
                verdicts.append("rejected")
            else:
                risks.append(100 - result.safety_score)
                model_risks.append(result.model_score)
                verdicts.append(result.verdict)
            labels.append(is_malicious)
        elapsed = time.perf_counter() - started
        self._print_report(labels, risks, model_risks, verdicts, rejected, elapsed)

    def _read_rows(self, options) -> list[tuple[str, bool]]:
        path: Path = options["csv_file"]
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        rows, skipped, schemes_added = [], 0, 0
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            for column in (options["url_column"], options["label_column"]):
                if column not in (reader.fieldnames or []):
                    raise CommandError(f"{path} has no '{column}' column (columns: {reader.fieldnames})")
            for record in reader:
                url = record[options["url_column"]].strip()
                label = record[options["label_column"]].strip().lower()
                if label not in MALICIOUS_LABELS | BENIGN_LABELS:
                    skipped += 1
                    continue
                if "://" not in url[:12] and options["assume_scheme"] != "none":
                    url = f"{options['assume_scheme']}://{url}"
                    schemes_added += 1
                rows.append((url, label in MALICIOUS_LABELS))
        if skipped:
            self.stdout.write(f"skipped {skipped} rows with an unknown label")
        if schemes_added:
            self.stdout.write(f"added {options['assume_scheme']}:// to {schemes_added} rows without a scheme")
        if not rows:
            raise CommandError("no labelled rows to evaluate")
        return rows

    def _print_report(self, labels, risks, model_risks, verdicts, rejected, elapsed) -> None:
        write = self.stdout.write
        positives = sum(labels)
        write(
            f"\n{len(labels)} URLs: {positives} malicious, {len(labels) - positives} benign; {rejected} rejected as invalid (scored 0)"
        )
        if 0 < positives < len(labels):
            write(f"ROC AUC (safety score):      {roc_auc(labels, risks):.4f}")
            write(f"ROC AUC (model probability): {roc_auc(labels, model_risks):.4f}")
            write(f"recall of malicious at 1% FPR: {recall_at_fpr(labels, risks, 0.01):.1%}")
            write(f"recall of malicious at 2% FPR: {recall_at_fpr(labels, risks, 0.02):.1%}")
        else:
            write("ROC AUC and recall need both malicious and benign rows")
        table = confusion_table(["malicious" if label else "benign" for label in labels], verdicts)
        shipped = thresholds()
        write(
            f"\nverdicts at the thresholds in use: malicious at risk >= {shipped['malicious']:.2f}"
            f" (safety score <= {100 - round(100 * shipped['malicious'])}),"
            f" suspicious at >= {shipped['suspicious']:.2f} (score <= {100 - round(100 * shipped['suspicious'])})"
        )
        write("label \\ verdict  " + "".join(f"{column:>12}" for column in VERDICT_COLUMNS))
        for label in ("benign", "malicious"):
            row = table.get(label, {})
            write(f"{label:<16} " + "".join(f"{row.get(column, 0):>12}" for column in VERDICT_COLUMNS))
        benign, malicious = table.get("benign", {}), table.get("malicious", {})
        flagged = ("malicious", "rejected")
        if len(labels) > positives:
            benign_total = len(labels) - positives
            write(
                f"benign called malicious (false-positive rate of the flagging verdict): "
                f"{sum(benign.get(v, 0) for v in flagged) / benign_total:.2%};"
                f" suspicious: {benign.get('suspicious', 0) / benign_total:.2%}"
            )
        if positives:
            write(
                f"malicious called malicious (recall): {sum(malicious.get(v, 0) for v in flagged) / positives:.1%};"
                f" at least suspicious: {sum(malicious.get(v, 0) for v in (*flagged, 'suspicious')) / positives:.1%}"
            )
        write("\nreliability (is the score's risk the real share of malicious URLs?):")
        for line in reliability_lines(labels, [risk / 100 for risk in risks]):
            write(line)
        write(f"\nthroughput: {len(labels) / elapsed:,.0f} URLs/s (single process, {elapsed:.1f} s)")
