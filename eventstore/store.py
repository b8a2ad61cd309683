"""Appending to the log: one SQL statement per append, inside the caller's transaction.

The statement checks the expected stream version, numbers the new events and
inserts them in one round trip. `ON CONFLICT DO NOTHING` turns both kinds of
clash (an event id already stored; a stream version taken by a concurrent
writer) into "fewer rows returned" instead of an aborted transaction, so no
savepoint is needed and the caller decides what to do.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import orjson
import psycopg
from django.db import connection

from .envelope import ExpectedVersion, NewEvent, RecordedEvent
from .exceptions import ConcurrencyConflict, StreamOrderConflict

# Events of one transaction get positions (xid << POSITION_SHIFT) + 1, + 2, ...
POSITION_SHIFT = 20
MAX_EVENTS_PER_TRANSACTION = (1 << POSITION_SHIFT) - 1

_APPEND_SQL = f"""
WITH head AS (
    SELECT coalesce(last.stream_version, 0) AS version, coalesce(last.position, 0) AS position
    FROM (SELECT 1) AS one LEFT JOIN LATERAL (
        SELECT stream_version, position FROM eventstore_event
        WHERE stream_id = %(stream_id)s ORDER BY stream_version DESC LIMIT 1
    ) AS last ON true
), tx AS (
    SELECT pg_current_xact_id()::text::bigint << {POSITION_SHIFT} AS base
), used AS (
    -- the last position this transaction took so far: one backward index probe
    SELECT coalesce((
        SELECT e.position - tx.base FROM eventstore_event e
        WHERE e.position > tx.base AND e.position < tx.base + {1 << POSITION_SHIFT}
        ORDER BY e.position DESC LIMIT 1
    ), 0) AS n
    FROM tx
)
INSERT INTO eventstore_event (position, id, stream_id, stream_version, type, schema_version,
                              data, metadata, source, correlation_id, causation_id)
SELECT tx.base + used.n + v.ord, v.id, %(stream_id)s, head.version + v.ord, v.type,
       v.schema_version, v.data, v.metadata, v.source, v.correlation_id, v.causation_id
FROM unnest(%(ids)s::uuid[], %(types)s::text[], %(schema_versions)s::smallint[],
            %(datas)s::jsonb[], %(metadatas)s::jsonb[], %(sources)s::text[],
            %(correlation_ids)s::uuid[], %(causation_ids)s::uuid[])
     WITH ORDINALITY AS v(id, type, schema_version, data, metadata, source,
                          correlation_id, causation_id, ord),
     head, tx, used
WHERE (%(expected)s::int < 0 OR head.version = %(expected)s::int)
  -- stream order = position order: the stream's head must not come from a later transaction
  AND head.position < tx.base + {1 << POSITION_SHIFT}
ORDER BY v.ord
ON CONFLICT DO NOTHING
RETURNING position, id, stream_version, recorded_at
"""

_ANY_VERSION_ATTEMPTS = 5
_STREAM_VERSION_SQL = "SELECT coalesce(max(stream_version), 0) FROM eventstore_event WHERE stream_id = %s"
_HEAD_SQL = f"""
SELECT coalesce(max(stream_version), 0), coalesce(max(position), 0),
       pg_current_xact_id()::text::bigint << {POSITION_SHIFT}
FROM eventstore_event WHERE stream_id = %s
"""


def append(stream_id: str, events: Sequence[NewEvent], expected_version: int) -> list[RecordedEvent]:
    """Append `events` to `stream_id` in the current transaction.

    `expected_version` is an exact version (the stream must be at it),
    `ExpectedVersion.NO_STREAM` or `ExpectedVersion.ANY`. Appending events
    whose ids are all stored already is a no-op returning the stored events.
    Raises ConcurrencyConflict when the stream is not at the expected version,
    and its subclass StreamOrderConflict when a transaction that started later
    has already extended the stream: appending now would put this event before
    its predecessor in position order, so the whole command must run again in a
    new transaction (`eventstore.commands.atomic_command` does that).
    Returned events carry the data as given (already the current schema).
    """
    if not events:
        return []
    if len(events) > MAX_EVENTS_PER_TRANSACTION:
        raise ValueError(f"at most {MAX_EVENTS_PER_TRANSACTION} events per transaction")
    params = {
        "stream_id": stream_id,
        "expected": expected_version,
        "ids": [e.id for e in events],
        "types": [e.type for e in events],
        "schema_versions": [e.schema_version for e in events],
        "datas": [orjson.dumps(e.data).decode() for e in events],
        "metadatas": [orjson.dumps(e.metadata).decode() for e in events],
        "sources": [e.source for e in events],
        "correlation_ids": [e.correlation_id for e in events],
        "causation_ids": [e.causation_id for e in events],
    }
    for _attempt in range(_ANY_VERSION_ATTEMPTS):
        rows = _execute_prepared(_APPEND_SQL, params)
        if rows or expected_version != ExpectedVersion.ANY:
            break
        # ANY lost a race for the next version to a concurrent writer; under READ
        # COMMITTED the next statement sees the winner, so trying again is safe.
    if len(rows) == len(events):
        by_id = {row[1]: row for row in rows}
        return [_recorded(stream_id, event, by_id[event.id]) for event in events]
    if rows:
        # Part of a batch landed and part clashed: only possible when some ids of
        # the batch were stored before. The transaction must not keep half of it.
        raise ConcurrencyConflict(stream_id, expected_version)
    return _already_stored_or_conflict(stream_id, events, expected_version)


def _execute_prepared(sql: str, params: dict) -> list[tuple]:
    """Run the append as a prepared statement on Django's connection (same transaction).

    Django's psycopg cursors bind parameters on the client, which re-renders
    the whole statement (JSON included) and makes Postgres plan it on every
    append; a server-side-binding cursor lets Postgres plan it once per
    connection. That is about a third of an append's cost (docs/benchmarks.md).
    """
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchall()


def _already_stored_or_conflict(
    stream_id: str, events: Sequence[NewEvent], expected_version: int
) -> list[RecordedEvent]:
    from .reading import read_events_by_id  # late: reading imports the registry

    stored = read_events_by_id([e.id for e in events])
    if len(stored) == len(events) and all(s.stream_id == stream_id for s in stored):
        return stored
    with connection.cursor() as cursor:
        cursor.execute(_HEAD_SQL, [stream_id])
        actual, head_position, base = cursor.fetchone()
    if head_position >= base + (1 << POSITION_SHIFT):
        raise StreamOrderConflict(stream_id, expected_version, actual)
    raise ConcurrencyConflict(stream_id, expected_version, actual)


def _recorded(stream_id: str, event: NewEvent, row: tuple) -> RecordedEvent:
    position, event_id, stream_version, recorded_at = row
    return RecordedEvent(
        id=event_id if isinstance(event_id, uuid.UUID) else uuid.UUID(str(event_id)),
        position=position,
        stream_id=stream_id,
        stream_version=stream_version,
        type=event.type,
        schema_version=event.schema_version,
        data=event.data,
        metadata=event.metadata,
        source=event.source,
        correlation_id=event.correlation_id,
        causation_id=event.causation_id,
        recorded_at=recorded_at,
    )


def stream_version(stream_id: str) -> int:
    """The stream's current version (0 when it has no events)."""
    with connection.cursor() as cursor:
        cursor.execute(_STREAM_VERSION_SQL, [stream_id])
        return cursor.fetchone()[0]


__all__ = ["ExpectedVersion", "append", "stream_version"]
