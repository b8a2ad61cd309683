"""python manage.py subscribers: each subscriber's checkpoint, lag and parked count."""

from django.core.management.base import BaseCommand

from eventstore import streams
from eventstore.monitoring import relay_paced, runner_partitions
from eventstore.relay_pacing import PACED_ROUND_SECONDS
from eventstore.selectors import subscriber_status


class Command(BaseCommand):
    help = "Show each subscriber's checkpoint, lag behind the head of the log, and parked events."

    def handle(self, *args, **options):
        rows = subscriber_status()
        self.stdout.write(f"{'subscriber':32} {'checkpoint':>18} {'lag':>8} {'parked':>7}")
        for row in rows:
            self.stdout.write(f"{row['name']:32} {row['checkpoint']:>18} {row['lag']:>8} {row['parked']:>7}")
        consumed = runner_partitions()
        if consumed is None:
            self.stdout.write("stream runner: unknown (Redis unreachable)")
        elif consumed:
            self.stdout.write(f"stream runner: alive, consuming partitions {consumed}")
            if relay_paced():
                self.stdout.write(
                    f"stream runner: a high commit rate; the relay reads every "
                    f"{PACED_ROUND_SECONDS * 1000:.0f} ms, commits do not wake it"
                )
        else:
            self.stdout.write(
                f"stream runner: none alive; Celery workers deliver all {streams.partition_count()} partitions"
            )
