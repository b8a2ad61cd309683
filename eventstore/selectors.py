"""Queries over the log for the API, the admin and the explorer."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator

from .envelope import RecordedEvent
from .reading import read_correlation

# The most events one read of a stream or a correlation returns (API, explorer).
READ_PAGE_LIMIT = 1000


def stream_positions(stream_id: str, *, before: int | None, chunk: int) -> Iterator[list[int]]:
    """The positions of a stream's events below `before` (all when None), newest first, `chunk` at a time.

    From the key table's (stream_id, stream_version) index: the log keeps no
    index by stream (migration 0015), and within a stream version order is
    position order. A caller reads each chunk's events by these values, so
    that read is planned over the partitions holding them, at most `chunk`
    (a position worked out inside the statement prunes only at run time,
    after every partition was planned and locked: migration 0014).
    """
    from django.db import connection

    from .partitions import HIGHEST_POSITION

    below_version = HIGHEST_POSITION
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT stream_version, position FROM eventstore_event_key WHERE stream_id = %s"
                " AND position < %s AND stream_version < %s ORDER BY stream_version DESC LIMIT %s",
                [stream_id, HIGHEST_POSITION if before is None else before, below_version, chunk],
            )
            rows = cursor.fetchall()
        if rows:
            yield [position for _version, position in rows]
        if len(rows) < chunk:
            return
        below_version = rows[-1][0]


def in_windows(events, limit: int, *, newest_first: bool, before: int | None = None) -> list:
    """Up to `limit` of `events` (a queryset of the log in position order, newest first or oldest
    first) below `before`, read window by window in that order.

    Each window's statement carries its bounds as literals (partitions.read_in_windows),
    so it plans over, and locks, that window's partitions only; ordered and
    LIMITed alone, the read plans over every partition of the log. It stops
    at the windows that fill the page.
    """
    from . import partitions

    def window(after: int, through: int, wanted: int) -> list:
        return list(events.filter(position__gt=after, position__lte=through)[:wanted])

    through = partitions.HIGHEST_POSITION if before is None else before - 1
    return partitions.read_in_windows(window, limit, through=through, newest_first=newest_first)


def search_positions(term: str, *, limit: int) -> list[int]:
    """The newest `limit` positions of the stream `term` and of the correlation id `term` (when a UUID).

    For the admin's search: its change list then reads the events at these
    positions, values the planner prunes with, so the list is planned over the
    partitions holding them. The stream's come from the key table's
    (stream_id, stream_version) index; the correlation's from the log's
    correlation index, newest windows of partitions first
    (partitions.read_in_windows), each statement planned over its window
    only: a search with no position bound would plan over every partition.
    """
    from django.db import connection

    from . import partitions
    from .context import parse_uuid

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT position FROM eventstore_event_key WHERE stream_id = %s ORDER BY stream_version DESC LIMIT %s",
            [term, limit],
        )
        found = [row[0] for row in cursor.fetchall()]
        correlation = parse_uuid(term)
        if correlation is None:
            return found

        def window(after: int, through: int, wanted: int) -> list[int]:
            cursor.execute(
                "SELECT position FROM eventstore_event WHERE correlation_id = %s AND position > %s"
                " AND position <= %s ORDER BY position DESC LIMIT %s",
                [correlation, after, through, wanted],
            )
            return [row[0] for row in cursor.fetchall()]

        found += partitions.read_in_windows(window, limit, newest_first=True)
    return sorted(set(found), reverse=True)[:limit]


def causal_chain(correlation_id: uuid.UUID, *, after: int = 0, limit: int = READ_PAGE_LIMIT) -> list[dict]:
    """Up to `limit` events of a correlation id after `after`, in position order, with the ids they caused.

    `caused` lists only events of the same page.
    """
    events: list[RecordedEvent] = read_correlation(correlation_id, after=after, limit=limit)
    caused: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for event in events:
        if event.causation_id is not None:
            caused[event.causation_id].append(event.id)
    return [{**event.as_dict(), "caused": caused.get(event.id, [])} for event in events]


def subscriber_status() -> list[dict]:
    """Per subscriber: newest position processed, events not yet processed, parked count.

    Partitions advance independently, so the lag counts, for each readable
    event after the lowest checkpoint, whether its own partition's checkpoint
    is behind it. It stops counting at LAG_COUNT_LIMIT (reported as that).
    """
    from django.db import connection

    from . import streams
    from .models import Checkpoint, ParkedEvent
    from .monitoring import LAG_COUNT_LIMIT
    from .reading import horizon
    from .relay import subscriber_checkpoint_name
    from .subscribers import registered_subscribers

    partitions = range(streams.partition_count())
    checkpoints = {}
    for name in registered_subscribers():
        names = {subscriber_checkpoint_name(name, p): p for p in partitions}
        found = dict(Checkpoint.objects.filter(name__in=names).values_list("name", "position"))
        checkpoints[name] = [found.get(subscriber_checkpoint_name(name, p), 0) for p in partitions]
    lowest = min((min(c) for c in checkpoints.values()), default=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT stream_id, position FROM eventstore_event WHERE position > %s AND position < %s "
            "ORDER BY position LIMIT %s",
            [lowest, horizon(), LAG_COUNT_LIMIT],
        )
        pending = [(streams.partition_of(stream_id), position) for stream_id, position in cursor.fetchall()]
    rows = []
    for name in sorted(checkpoints):
        positions = checkpoints[name]
        rows.append(
            {
                "name": name,
                "checkpoint": max(positions),  # the newest event it has processed
                "lag": sum(1 for partition, position in pending if position > positions[partition]),
                "parked": ParkedEvent.objects.filter(subscriber=name, resolved_at__isnull=True).count(),
            }
        )
    return rows


def delivery_checks() -> list[dict]:
    """The last delivery check of each subscriber (verify_delivery), with its age in seconds."""
    from django.utils import timezone

    from .models import DeliveryCheck

    now = timezone.now()
    return [
        {
            "subscriber": check.subscriber,
            "checked_at": check.checked_at,
            "age_seconds": (now - check.checked_at).total_seconds(),
            "verified_up_to": check.verified_up_to,
            "checked_events": check.checked_events,
            "missed": check.missed,
            "doubled": check.doubled,
            "parked": check.parked,
            "ok": not check.missed and not check.doubled,
        }
        for check in DeliveryCheck.objects.order_by("subscriber")
    ]
