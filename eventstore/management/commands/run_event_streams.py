"""`manage.py run_event_streams`: the relay and the subscribers as long-running loops.

See eventstore.stream_runner. Stops on SIGTERM or SIGINT after the current
round of each loop; a kill loses nothing (the events stay in the log and the
streams, and another runner or a Celery worker goes on from the checkpoints).
With Postgres or Redis down it does not exit: each loop logs the error and
tries again with a growing pause, so a restart of a service needs no restart here.

SIGUSR1 prints every thread's stack to stderr and the runner goes on: for a
loop that seems stuck (a round that never ends logs nothing), it shows where.
"""

from __future__ import annotations

import faulthandler
import signal
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from eventstore import streams
from eventstore.errors import GapSafetyUnavailable
from eventstore.reading import horizon
from eventstore.stream_runner import StreamRunner

SWITCH_INTERVAL_SECONDS = 0.0005


class Command(BaseCommand):
    help = "Relay committed events to Redis and run every subscriber, woken by commits (low latency)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--partitions",
            help="comma-separated partitions to consume (default: all); the relay runs in every runner",
        )
        parser.add_argument("--poll-seconds", type=float, default=1.0, help="wake up at least this often")
        parser.add_argument(
            "--alive-file", help="touch this file every second while running (for health checks)"
        )

    def handle(self, *args, partitions=None, poll_seconds=1.0, alive_file=None, **options):
        chosen = None
        if partitions:
            try:
                chosen = sorted({int(p) for p in partitions.split(",")})
            except ValueError as exc:
                raise CommandError(f"--partitions takes numbers like 0,2: {exc}") from exc
            wrong = [p for p in chosen if not 0 <= p < streams.partition_count()]
            if wrong:
                raise CommandError(f"no such partitions {wrong}: there are {streams.partition_count()}")
        if poll_seconds <= 0:
            raise CommandError("--poll-seconds must be positive")
        try:
            horizon()  # refuses a server or setting where following could skip events
        except GapSafetyUnavailable as exc:
            raise CommandError(str(exc)) from exc
        except DatabaseError:
            pass  # Postgres down: the loops wait for it (above)
        # Threads hand the GIL over every 5 ms by default; a loop woken for a
        # commit should not wait that long behind another one's decoding.
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        runner = StreamRunner(partitions=chosen, poll_seconds=poll_seconds, alive_file=alive_file)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: runner.stopping.set())
        faulthandler.register(signal.SIGUSR1, all_threads=True)
        runner.start()
        self.stdout.write(
            f"run_event_streams: relay + partitions {runner.partitions}, "
            f"{len(runner.threads) - 1} consumer loops; Ctrl-C to stop"
        )
        try:
            runner.run_until_stopped()
        finally:
            runner.stop()
        self.stdout.write("run_event_streams: stopped")
