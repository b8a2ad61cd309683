"""python manage.py verify_projections: do the live projections equal the log? (changes nothing)"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from eventstore.projection_audit import audit_projections
from eventstore.projections import registered_projections


class Command(BaseCommand):
    help = (
        "Compare live projections with a rebuild from the log, at one position, without changing or "
        "locking anything; report any drift (exit status 1). Never repairs: see replay_events."
    )

    def add_arguments(self, parser):
        parser.add_argument("--projection", action="append", dest="projections", metavar="NAME")

    def handle(self, *args, projections=None, **options):
        available = registered_projections()
        unknown = sorted(set(projections or []) - set(available))
        if unknown:
            raise CommandError(f"unknown projection(s): {', '.join(unknown)}")
        chosen = [available[name] for name in projections] if projections else None
        outcome = audit_projections(chosen)
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
