"""`python manage.py simulate`: realistic demo traffic through the services, at a chosen rate."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from monitoring_app.simulation import Simulation


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
        while time.monotonic() - started < duration and (actions is None or count < actions):
            simulation.step()
            count += 1
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
        summary = ", ".join(f"{name} {n}" for name, n in sorted(simulation.done.items()))
        self.stdout.write(f"simulated {count} actions in {time.monotonic() - started:.1f} s: {summary}")
