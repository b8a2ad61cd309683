"""python manage.py verify_projections: do the live projections equal the log? (changes nothing)"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from eventstore.archive import source as archive_source
from eventstore.errors import ArchiveInvalid
from eventstore.projection_audit import audit_projections
from eventstore.projections import registered_projections


class Command(BaseCommand):
    help = (
        "Compare live projections with a rebuild from the log, at one position, without changing or "
        "locking anything; report any drift (exit status 1). Never repairs: see replay_events."
    )

    def add_arguments(self, parser):
        parser.add_argument("--projection", action="append", dest="projections", metavar="NAME")
        parser.add_argument(
            "--archive",
            type=Path,
            metavar="DIR",
            help="rebuild from the events archived in DIR (manage.py archive_events) and the live log; "
            "default EVENTSTORE_ARCHIVE_DIR, required once the log's oldest partitions were archived",
        )

    def handle(self, *args, projections=None, archive=None, **options):
        available = registered_projections()
        unknown = sorted(set(projections or []) - set(available))
        if unknown:
            raise CommandError(f"unknown projection(s): {', '.join(unknown)}")
        chosen = [available[name] for name in projections] if projections else None
        try:
            with archive_source.whole_log(archive):
                outcome = audit_projections(chosen)
        except ArchiveInvalid as exc:
            raise CommandError(f"--archive {archive}: {exc}" if archive else str(exc)) from exc
        for drift in outcome["drifted"]:
            counts = ", ".join(
                f"{drift[k]} {k.replace('_', ' ')}" for k in ("only_live", "only_rebuilt", "differing")
            )
            examples = "; ".join(e for found in drift["examples"].values() for e in found)
            self.stdout.write(f"DRIFT {drift['projection']} {drift['table']}: {counts} (e.g. {examples})")
        checked = len(outcome["projections"])
        if outcome["drifted"]:
            raise CommandError(
                f"{len(outcome['drifted'])} table(s) drifted from the log in {checked} projection(s)"
            )
        self.stdout.write(
            self.style.SUCCESS(f"{checked} projection(s) equal the log ({outcome['seconds']:.2f} s).")
        )
