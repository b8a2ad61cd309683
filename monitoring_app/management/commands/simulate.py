"""`python manage.py simulate`: realistic demo traffic through the services, at a chosen rate."""

from __future__ import annotations

import threading
import time
from collections import Counter

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
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="simulated clients acting at once (threads, each with its own users, posts and database "
            "connection, seeded seed, seed+1, ...); they share the rate (default 1)",
        )

    def handle(
        self,
        *args,
        rate: float,
        duration: float,
        actions: int | None,
        seed: int | None,
        workers: int,
        **options,
    ):
        if rate <= 0 or duration <= 0 or (actions is not None and actions <= 0) or workers <= 0:
            raise CommandError("--rate, --duration, --actions and --workers must be positive")
        seed = seed if seed is not None else time.time_ns()
        run = _Run(rate=rate, duration=duration, actions=actions, workers=workers, stderr=self.stderr)
        simulations = [Simulation(seed=seed + index) for index in range(workers)]
        run.drive_all(simulations)
        elapsed = time.monotonic() - run.started
        done = sum((simulation.done for simulation in simulations), Counter())
        done["failed_database_unavailable"] += run.failed_unavailable
        summary = ", ".join(f"{name} {n}" for name, n in sorted(done.items()) if n)
        self.stdout.write(
            f"simulated {run.count} actions in {elapsed:.1f} s ({run.count / elapsed:.1f}/s): {summary}"
        )
        if actions is None and run.count < 0.9 * rate * elapsed:
            # Each action waits for its own commits (and a sign-up or login hashes a password): on a
            # busy machine the loop cannot keep the rate asked for, and says so rather than pretend.
            self.stdout.write(
                f"below the rate asked for ({rate:g}/s): each action took longer than "
                f"{workers}/rate (--workers runs more at once)"
            )


class _Run:
    """Workers taking turns at the rate asked for, each in a thread of its own, until time or actions run out."""

    def __init__(self, *, rate: float, duration: float, actions: int | None, workers: int, stderr) -> None:
        self.rate, self.duration, self.actions, self.workers = rate, duration, actions, workers
        self.stderr = stderr
        self.started = time.monotonic()
        self.count = 0  # actions begun, failed ones included
        self.failed_unavailable = 0
        self._failing_since_success = 0  # actions failed since the database last answered (any worker)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._error: BaseException | None = None

    def drive_all(self, simulations: list[Simulation]) -> None:
        if len(simulations) == 1:
            self._drive(simulations[0], 0)  # in the caller's thread and database connection
        else:
            threads = [
                threading.Thread(target=self._drive, args=(simulation, index), name=f"simulate-{index}")
                for index, simulation in enumerate(simulations)
            ]
            for thread in threads:
                thread.start()
            try:
                for thread in threads:
                    thread.join()
            except KeyboardInterrupt:
                self._stop.set()  # each worker ends its action and stops
                for thread in threads:
                    thread.join()
                raise
        if self._error is not None:
            raise self._error

    def _drive(self, simulation: Simulation, index: int) -> None:
        # Each worker acts every workers/rate seconds, the workers staggered by 1/rate.
        interval = self.workers / self.rate
        next_at = self.started + index / self.rate
        try:
            while self._begin_action(next_at):
                try:
                    simulation.step()
                except OperationalError as exc:
                    # Demo traffic rides out a database outage as clients do: that action fails, and
                    # another is tried a second later, then at the rate asked for (no burst to catch up).
                    if not database_unavailable(exc):
                        raise
                    self._failed(exc)
                    connection.close()
                    time.sleep(1.0)
                    next_at = time.monotonic()
                    continue
                self._succeeded()
                next_at += interval
        except BaseException as exc:
            with self._lock:
                self._error = self._error or exc
            self._stop.set()
        finally:
            if self.workers > 1:
                connection.close()  # this thread's own connection

    def _begin_action(self, at: float) -> bool:
        """Wait until `at`, then count one more action; False once time or actions are used up."""
        if self._stop.wait(max(0.0, at - time.monotonic())):
            return False
        with self._lock:
            if time.monotonic() - self.started >= self.duration:
                return False
            if self.actions is not None and self.count >= self.actions:
                return False
            self.count += 1
            return True

    def _failed(self, exc: OperationalError) -> None:
        with self._lock:
            if not self._failing_since_success:
                self.stderr.write(f"database unavailable, actions fail until it is back: {exc}")
            self._failing_since_success += 1
            self.failed_unavailable += 1

    def _succeeded(self) -> None:
        with self._lock:
            if self._failing_since_success:
                self.stderr.write(
                    f"database available again after {self._failing_since_success} failed actions"
                )
                self._failing_since_success = 0
