"""python manage.py prepare_partitioned_log: migration 0011's slow steps beforehand, appends going on."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from eventstore import log_conversion
from eventstore.errors import LogConversionRefused


class Command(BaseCommand):
    help = (
        "Before migration 0011 on a long log: copy every key into eventstore_event_key (a trigger gives "
        "new events theirs), build the first partition's stream index concurrently and validate a range "
        "check, so that 0011 holds appends only for catalog changes. --finish, once every process runs "
        "the code after 0011, drops the trigger. Run as the owner of the log (docs/eventstore.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=10_000, help="keys copied per transaction")
        parser.add_argument(
            "--transactions-ahead",
            type=int,
            default=1_048_576,
            help="the first partition's bound, in transactions past the next one; run 0011 before the "
            "cluster takes that many",
        )
        parser.add_argument("--finish", action="store_true", help="drop the transition trigger (after 0011)")

    def handle(self, *args, batch, transactions_ahead, finish=False, **options):
        try:
            if finish:
                dropped = log_conversion.finish()
                self.stdout.write(
                    "Dropped the transition trigger." if dropped else "No transition trigger left."
                )
                return
            if batch < 1:
                raise CommandError("--batch must be at least 1")
            done = log_conversion.prepare(
                batch=batch, transactions_ahead=transactions_ahead, say=self.stdout.write
            )
        except LogConversionRefused as refused:
            raise CommandError(str(refused)) from refused
        timings = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in done.seconds.items())
        self.stdout.write(
            f"Prepared: {done.keys_copied:,} keys copied; first partition below {done.bound} "
            f"({done.transactions_left:,} transactions from now: run `manage.py migrate` before then); {timings}."
        )
