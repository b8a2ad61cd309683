"""`manage.py evaluate_scanner`: confusion matrix at the thresholds in use, and the reliability table."""

import io
import re

from django.core.management import call_command

from links_app.management.commands.evaluate_scanner import score_band
from links_app.scanner.scoring import configure_thresholds

ROWS = [
    ("https://www.wikipedia.org/", "benign"),
    ("https://www.python.org/downloads/", "benign"),
    ("http://rgipt.ac.in", "legitimate"),
    ("http://paypal.com.account-verify.secure-login.tk/webscr/cmd=_login-submit/index.php", "phishing"),
    ("http://192.168.7.1/secure/login/verify.php", "malicious"),
]


def evaluate(tmp_path) -> str:
    data = tmp_path / "urls.csv"
    data.write_text("url,label\n" + "".join(f"{url},{label}\n" for url, label in ROWS), encoding="utf-8")
    out = io.StringIO()
    call_command("evaluate_scanner", str(data), stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_prints_the_thresholds_in_use_the_confusion_matrix_and_the_reliability_table(tmp_path):
    report = evaluate(tmp_path)
    assert "malicious at risk >= 0.93 (safety score <= 7), suspicious at >= 0.77 (score <= 23)" in report
    benign = re.search(r"^benign\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$", report, re.MULTILINE)
    assert benign and sum(map(int, benign.groups())) == 3
    assert "benign called malicious (false-positive rate of the flagging verdict): 0.00%" in report
    table = report.split("reliability")[1]
    counts = [int(line.split()[1]) for line in table.splitlines()[2:] if re.match(r"\s+\d+-\d+ ", line)]
    assert sum(counts) == len(ROWS)


def test_the_confusion_matrix_follows_configured_thresholds(tmp_path):
    configure_thresholds(malicious=1e-6, suspicious=1e-6)
    try:
        report = evaluate(tmp_path)
    finally:
        configure_thresholds()
    assert "malicious at risk >= 0.00 (safety score <= 100)" in report
    assert re.search(r"^benign\s+0\s+0\s+3\s+0$", report, re.MULTILINE)  # everything is flagged now


def test_score_bands_label_the_scores_they_hold():
    assert score_band(0.0, 0.1) == "91-100"
    assert score_band(0.9, 1.0) == "0-10"
    assert score_band(0.2, 0.3) == "71-80"
