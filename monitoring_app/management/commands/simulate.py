"""`python manage.py simulate`: realistic demo traffic through the services, at a chosen rate."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError, connection

from monitoring_app.simulation import Simulation
from platform_site.database_errors import database_unavailable


class Command(BaseCommand):
    help = (
        "Drive demo traffic (sign-ups, logins and failed logins, posts with safe and dangerous links, "
        "comments, votes) through the service functions. Each action is one request with its own "
        "correlation id. Link scans and flagging need the Celery workers (`make run`)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rate", type=float, default=2.0, help="actions per second (default 2)")
        parser.add_argument("--duration", type=float, default=60.0, help="seconds to run (default 60)")
        parser.add_argument("--actions", type=int, default=None, help="stop after this many actions")
        parser.add_argument("--seed", type=int, default=None, help="random seed, for a reproducible mix")

    def handle(self, *args, rate: float, duration: float, actions: int | None, seed: int | None, **options):
        if rate <= 0 or duration <= 0 or (actions is not None and actions <= 0):
            raise CommandError("--rate, --duration and --actions must be positive")
        simulation = Simulation(seed=seed if seed is not None else time.time_ns())
        interval = 1.0 / rate
        started = time.monotonic()
        next_at = started
        count = 0
        unavailable = 0
        while time.monotonic() - started < duration and (actions is None or count < actions):
            count += 1
            try:
                simulation.step()
            except OperationalError as exc:
                # Demo traffic rides out a database outage as clients do: that action fails, and
                # another is tried a second later, then at the rate asked for (no burst to catch up).
                if not database_unavailable(exc):
                    raise
                if not unavailable:
                    self.stderr.write(f"database unavailable, actions fail until it is back: {exc}")
                unavailable += 1
                connection.close()
                time.sleep(1.0)
                next_at = time.monotonic()
                continue
            if unavailable:
                self.stderr.write(f"database available again after {unavailable} failed actions")
                simulation.done["failed_database_unavailable"] += unavailable
                unavailable = 0
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
        simulation.done["failed_database_unavailable"] += unavailable
        elapsed = time.monotonic() - started
        summary = ", ".join(f"{name} {n}" for name, n in sorted(simulation.done.items()) if n)
        self.stdout.write(
            f"simulated {count} actions in {elapsed:.1f} s ({count / elapsed:.1f}/s): {summary}"
        )
        if actions is None and count < 0.9 * rate * elapsed:
            # Each action waits for its own commits (and a sign-up or login hashes a password): on a
            # busy machine the loop cannot keep the rate asked for, and says so rather than pretend.
            self.stdout.write(f"below the rate asked for ({rate:g}/s): each action took longer than 1/rate")
