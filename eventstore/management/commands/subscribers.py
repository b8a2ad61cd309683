"""python manage.py subscribers: each subscriber's checkpoint, lag and parked count."""

from django.core.management.base import BaseCommand

from eventstore.selectors import subscriber_status


class Command(BaseCommand):
    help = "Show each subscriber's checkpoint, lag behind the head of the log, and parked events."

    def handle(self, *args, **options):
        rows = subscriber_status()
        self.stdout.write(f"{'subscriber':32} {'checkpoint':>18} {'lag':>8} {'parked':>7}")
        for row in rows:
            self.stdout.write(f"{row['name']:32} {row['checkpoint']:>18} {row['lag']:>8} {row['parked']:>7}")
