"""Counts of backfills: how often consumers read events from Postgres that Redis did not bring.

A backfill is a recovery path (entries trimmed before a slow subscriber read
them, a Redis flush or restart); a healthy steady state takes none. The counts
live in Redis, in two hashes keyed by subscriber, so every process adds to the
same figures and /metrics reads them from any web process. They start again
from zero when Redis loses its data; Prometheus takes that as a counter reset.
"""

from __future__ import annotations

import logging

from . import streams
from .redis import REDIS_ERRORS

logger = logging.getLogger(__name__)


def backfills_key() -> str:
    return f"{streams.key_prefix()}stats:backfills"


def backfilled_events_key() -> str:
    return f"{streams.key_prefix()}stats:backfilled_events"


def record_backfill(client, subscriber: str, events: int) -> None:
    """Count one backfill of `events` events; a Redis error only loses the count, not the events."""
    try:
        pipe = client.pipeline(transaction=False)
        pipe.hincrby(backfills_key(), subscriber, 1)
        pipe.hincrby(backfilled_events_key(), subscriber, events)
        pipe.execute()
    except REDIS_ERRORS as exc:
        logger.warning("could not count a backfill of %s: %r", subscriber, exc)


def backfill_counts(client) -> dict[str, tuple[int, int]]:
    """Per subscriber: (backfills, events backfilled). Raises one of REDIS_ERRORS when Redis is down."""
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(backfills_key())
    pipe.hgetall(backfilled_events_key())
    runs, events = pipe.execute()
    return {name.decode(): (int(count), int(events.get(name, 0))) for name, count in runs.items()}
