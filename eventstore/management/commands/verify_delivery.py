"""python manage.py verify_delivery: prove each subscriber handled every event of its types once."""

from django.core.management.base import BaseCommand, CommandError

from eventstore.delivery_ledger import verify
from eventstore.errors import DeliveryCheckOvertaken
from eventstore.subscribers import registered_subscribers


class Command(BaseCommand):
    help = (
        "Check each subscriber's delivery ledger against the log, up to its checkpoint: every event "
        "of its types handled exactly once in effect, or the events it missed or handled twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--subscriber", action="append", help="only this subscriber (repeatable)")

    def handle(self, *args, subscriber=None, **options):
        unknown = sorted(set(subscriber or ()) - set(registered_subscribers()))
        if unknown:
            raise CommandError(f"no such subscriber: {', '.join(unknown)}")
        try:
            reports = verify(subscriber)
        except DeliveryCheckOvertaken as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{'subscriber':32} {'verified up to':>20} {'checked':>9} {'missed':>7} {'doubled':>8} {'parked':>7}"
        )
        for report in reports:
            self.stdout.write(
                f"{report.subscriber:32} {report.verified_up_to:>20} {report.checked_events:>9}"
                f" {report.missed:>7} {report.doubled:>8} {report.parked:>7}"
            )
            for finding in report.findings:
                self.stdout.write(f"  {finding.kind}: {finding.as_dict()}")
        failed = [report.subscriber for report in reports if not report.ok]
        if failed:
            raise CommandError(f"delivery not proven for: {', '.join(failed)}")
        self.stdout.write(
            self.style.SUCCESS(f"every event handled exactly once by {len(reports)} subscribers")
        )
