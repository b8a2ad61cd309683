"""python manage.py check_event_schemas [--write]: event schemas against their committed snapshots."""

from django.core.management.base import BaseCommand, CommandError

from eventstore.registry import registered_event_types
from eventstore.schema_snapshots import check_type, snapshot_folder


class Command(BaseCommand):
    help = (
        "Check every event type's schema against the snapshots committed in its app's event_schemas/ "
        "folder: an incompatible change needs a new schema version and an upcaster, and every older "
        "version's samples must upcast to valid current data. --write records the current version's "
        "snapshot where it is missing or changed compatibly."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--write",
            action="store_true",
            help="record the current version's snapshot where it is missing or changed compatibly",
        )

    def handle(self, *args, **options):
        failed = []
        for name, event_type in sorted(registered_event_types().items()):
            folder = snapshot_folder(event_type)
            if folder is None:
                self.stdout.write(f"{name}: skipped (defined outside an installed app)")
                continue
            report = check_type(event_type, folder, write=options["write"])
            label = f"{name} v{report.version}"
            if report.problems:
                failed.append(name)
                self.stdout.write(self.style.ERROR(f"{label}: fails"))
                for problem in report.problems:
                    self.stdout.write(f"    {problem}")
            elif report.written:
                self.stdout.write(self.style.SUCCESS(f"{label}: snapshot written"))
            elif report.missing or report.outdated:
                failed.append(name)
                why = "no snapshot" if report.missing else "changed compatibly since its snapshot"
                self.stdout.write(self.style.WARNING(f"{label}: {why}; record it with --write"))
            else:
                self.stdout.write(f"{label}: ok")
        if failed:
            raise CommandError(
                f"{len(failed)} event type(s) do not match their snapshots. An incompatible change needs "
                "a new schema version and an upcaster from the old one (docs/privacy.md, schema evolution)."
            )
