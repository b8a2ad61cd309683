"""`manage.py export_moderator_verdicts`: the log's moderator verdicts as labelled CSV, read from Postgres."""

import csv
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from links_app.services import link_scan_perform, link_scan_request, link_verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def verified_link(fresh_url, scanner_says, moderator):
    """A link the scanner judged `scanner_verdict`, then a moderator `verdicts` in turn."""

    def make(scanner_verdict: str, *verdicts: str):
        scanner_says(scanner_verdict)
        scan = link_scan_perform(scan_id=link_scan_request(url=fresh_url()).scan.id)
        for verdict in verdicts:
            link_verify(link_id=scan.link_id, verdict=verdict, note="checked by hand", moderator=moderator)
        return scan

    return make


def export(*args) -> dict[str, dict]:
    out = io.StringIO()
    call_command("export_moderator_verdicts", *args, stdout=out)
    return {row["link_id"]: row for row in csv.DictReader(io.StringIO(out.getvalue()))}


def test_each_verified_link_is_one_labelled_row_with_its_latest_verdict(verified_link, moderator):
    phish = verified_link("safe", "malicious")
    fine = verified_link("malicious", "safe")
    changed_mind = verified_link("suspicious", "malicious", "safe")
    unverified = verified_link("malicious")

    rows = export()

    assert rows[str(phish.link_id)]["url"] == phish.normalized_url
    assert (rows[str(phish.link_id)]["label"], rows[str(phish.link_id)]["scanner_verdict"]) == (
        "malicious",
        "safe",
    )
    assert (rows[str(fine.link_id)]["label"], rows[str(fine.link_id)]["scanner_verdict"]) == (
        "benign",
        "malicious",
    )
    assert rows[str(changed_mind.link_id)]["label"] == "benign"
    assert str(unverified.link_id) not in rows
    # Training rows, not an audit trail: nobody's identity is in them.
    header = list(next(iter(rows.values())).keys())
    assert header == ["url", "label", "verdict", "scanner_verdict", "link_id", "verified_at"]
    assert moderator.username not in str(rows)


def test_suspicious_verdicts_are_left_out_unless_given_a_side(verified_link):
    unsure = verified_link("safe", "suspicious")

    assert str(unsure.link_id) not in export()
    assert export("--suspicious-as", "malicious")[str(unsure.link_id)]["label"] == "malicious"
    assert export("--suspicious-as", "benign")[str(unsure.link_id)]["label"] == "benign"


def test_writes_a_file_the_evaluation_command_reads(verified_link, tmp_path):
    verified_link("safe", "malicious")
    verified_link("safe", "safe")
    target = tmp_path / "verdicts.csv"
    call_command("export_moderator_verdicts", "--output", str(target), stdout=io.StringIO())

    with target.open(newline="") as handle:
        labels = [row["label"] for row in csv.DictReader(handle)]
    report = io.StringIO()
    call_command("evaluate_scanner", str(target), stdout=report)
    malicious = labels.count("malicious")
    assert f"{len(labels)} URLs: {malicious} malicious, {len(labels) - malicious} benign" in report.getvalue()


def test_an_unwritable_output_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="cannot write"):
        call_command("export_moderator_verdicts", "--output", str(tmp_path / "missing" / "x.csv"))
