"""``python manage.py export_moderator_verdicts [-o FILE.csv]``: moderators' verdicts as training data.

Reads every ``link:link_verified`` event in the log and writes one labelled
row per link (``url,label,…``, the format ``evaluate_scanner`` and
``scripts/train_scanner.py`` read). A moderator's latest verdict on a link is
the one that counts, as it is in every read of the link. "suspicious" is not
a label a classifier can learn from, so it is left out unless
``--suspicious-as`` says which side it belongs to. No moderator identity is
written: the rows are for retraining, not for auditing people.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from eventstore import follow_in_windows
from links_app.events import LINK_VERIFIED

LABEL_FOR_VERDICT = {"malicious": "malicious", "safe": "benign"}
COLUMNS = ("url", "label", "verdict", "scanner_verdict", "link_id", "verified_at")


class Command(BaseCommand):
    help = "Export moderators' link verdicts (link:link_verified events) as a labelled CSV (url,label,…) for retraining the scanner."

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
        parser.add_argument(
            "--suspicious-as",
            choices=("skip", "malicious", "benign"),
            default="skip",
            help="label for links a moderator called suspicious (default: leave them out)",
        )

    def handle(self, *args, **options):
        latest = self._latest_verdicts()
        labels = dict(LABEL_FOR_VERDICT)
        if options["suspicious_as"] != "skip":
            labels["suspicious"] = options["suspicious_as"]
        rows = [
            {
                "url": data["normalized_url"],
                "label": labels[data["verdict"]],
                "verdict": data["verdict"],
                "scanner_verdict": data.get("previous_verdict") or "",
                "link_id": data["link_id"],
                "verified_at": recorded_at.isoformat(),
            }
            for data, recorded_at in latest.values()
            if data["verdict"] in labels
        ]
        output: Path | None = options["output"]
        if output is not None:
            try:
                with output.open("w", newline="", encoding="utf-8") as handle:
                    self._write(handle, rows)
            except OSError as error:
                raise CommandError(f"cannot write {output}: {error.strerror}") from error
        else:
            self._write(self.stdout, rows)
        skipped = len(latest) - len(rows)
        # The summary goes to stderr so that the CSV on stdout stays clean.
        sys.stderr.write(
            f"{len(rows)} links exported ({sum(r['label'] == 'malicious' for r in rows)} malicious), "
            f"{skipped} left out as suspicious\n"
        )

    @staticmethod
    def _latest_verdicts() -> dict[str, tuple[dict, object]]:
        """``{link_id: (event data, recorded_at)}`` of each link's last moderator verdict.

        The whole visible log is read (not only below the follower horizon): this
        is a one-off snapshot, nobody continues from where it stopped. It goes a
        window of partitions per statement, as no statement may plan over the whole log.
        """
        latest: dict[str, tuple[dict, object]] = {}
        for batch in follow_in_windows(types=[LINK_VERIFIED.name]):
            for event in batch:
                latest[str(event.data["link_id"])] = (event.data, event.recorded_at)
        return latest

    @staticmethod
    def _write(handle, rows: list[dict]) -> None:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
