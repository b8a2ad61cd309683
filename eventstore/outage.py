"""One log line when a service goes down and one when it is back, for long-running loops and periodic jobs.

A loop that retries every second or two against a stopped Redis or Postgres
would otherwise log the same error at every attempt. `Outage` remembers that
the service is down: the first failure is an ERROR naming it, the retries are
DEBUG, and the first success after that is a WARNING saying how long it lasted
(an operator reading the log sees the start and the end of the outage). An
outage that goes on is an ERROR again every REMIND_SECONDS, with the latest
error: the log then tells a service still down (or an error that changed) from
a loop that has stopped trying.
"""

from __future__ import annotations

import functools
import logging
import threading
import time

from django.db import DatabaseError, connection

from .redis import REDIS_ERRORS

logger = logging.getLogger(__name__)

REMIND_SECONDS = 60.0


class Outage:
    """The up/down state of one service as one loop sees it (thread-safe)."""

    def __init__(self, logger: logging.Logger, what: str, *, clock=time.monotonic) -> None:
        self.logger = logger
        self.what = what
        self._clock = clock
        self._down_since: float | None = None
        self._said_at = 0.0  # when the outage was last logged as an ERROR
        self._failures = 0
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def failed(self, exc: BaseException, retry_in: float | None = None) -> None:
        """Record a failed attempt: an ERROR for the first of an outage, and every REMIND_SECONDS after."""
        now = self._clock()
        with self._lock:
            first = self._down_since is None
            if first:
                self._down_since = now
            self._failures += 1
            remind = not first and now - self._said_at >= REMIND_SECONDS
            if first or remind:
                self._said_at = now
            lasted, failures = now - self._down_since, self._failures
        retrying = f"; trying again every {retry_in:.1f} s at most" if retry_in is not None else ""
        if first:
            self.logger.error("%s unavailable (%r)%s", self.what, exc, retrying)
        elif remind:
            self.logger.error(
                "%s still unavailable after %.0f s (%d failed attempts, the last: %r)",
                self.what,
                lasted,
                failures,
                exc,
            )
        else:
            self.logger.debug("%s still unavailable (%r)", self.what, exc)

    def succeeded(self) -> None:
        """Record a successful attempt: a WARNING if it ends an outage."""
        if self._down_since is None:  # the usual case, without taking the lock
            return
        with self._lock:
            if self._down_since is None:
                return
            lasted = self._clock() - self._down_since
            failures, self._down_since, self._failures = self._failures, None, 0
        self.logger.warning(
            "%s available again after %.1f s (%d failed attempts)", self.what, lasted, failures
        )


def service_of(exc: BaseException) -> str:
    return "Redis" if isinstance(exc, REDIS_ERRORS) else "PostgreSQL"


def skipped_during_outages(what: str):
    """Decorator for a periodic job: while Postgres or Redis is down, a run ends quietly.

    The next run tries again, so skipping one loses nothing; each process logs
    the outage once and its end once (per service), instead of a traceback
    per run. Anything else the job raises still propagates.
    """
    outages = {service: Outage(logger, f"{what}: {service}") for service in ("Redis", "PostgreSQL")}

    def decorate(job):
        @functools.wraps(job)
        def run(*args, **kwargs):
            try:
                result = job(*args, **kwargs)
            except (DatabaseError, *REDIS_ERRORS) as exc:
                outages[service_of(exc)].failed(exc)
                connection.close()  # a broken session must not be reused by the next job
                return None
            for outage in outages.values():
                outage.succeeded()
            return result

        return run

    return decorate
