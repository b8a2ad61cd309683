"""python manage.py archive_events --before POSITION|DATE --dir DIR: old partitions of the log to files."""

from __future__ import annotations

import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from eventstore.archive.archiving import archive_before
from eventstore.errors import ArchiveInvalid


def _bound(value: str) -> tuple[int | None, datetime.datetime | None]:
    """A position (digits) or a date / date-time (ISO 8601; a date means its midnight, UTC by default)."""
    if value.isdigit():
        return int(value), None
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(
                f"--before {value!r}: give a position (digits) or an ISO date such as 2026-01-31"
            )
        moment = datetime.datetime.combine(day, datetime.time())
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=datetime.UTC)
    return None, moment


class Command(BaseCommand):
    help = (
        "Export the log's oldest partitions, wholly before a position or recorded before a date, to "
        "zstd-compressed JSON lines with a manifest (counts, SHA-256), verify each file against its "
        "partition, and only then detach it (and drop it, unless --keep). Refuses any partition that "
        "some subscriber or the relay has not passed, or that a running transaction could still write. "
        "Run as the owner of the log (docs/eventstore.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--before", required=True, metavar="POSITION|DATE")
        parser.add_argument("--dir", required=True, type=Path, help="the archive directory (manifest.json)")
        parser.add_argument("--keep", action="store_true", help="keep each detached partition as a table")
        parser.add_argument(
            "--dry-run", action="store_true", help="say what would be archived, change nothing"
        )

    def handle(self, *args, before, dir, keep=False, dry_run=False, **options):
        position, moment = _bound(before)
        try:
            report = archive_before(
                dir,
                before_position=position,
                before_date=moment,
                keep=keep,
                dry_run=dry_run,
                say=self.stdout.write,
            )
        except ArchiveInvalid as exc:
            raise CommandError(f"verification failed, nothing detached: {exc}") from exc
        if report.stopped_at:
            self.stdout.write(f"Stopped at {report.stopped_at}")
        total = sum(e.count for e in report.archived)
        self.stdout.write(
            self.style.SUCCESS(f"Archived {len(report.archived)} partition(s), {total} events, to {dir}.")
        )
