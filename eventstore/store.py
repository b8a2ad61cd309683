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
from django.db import connection

from . import prepared
from .envelope import ExpectedVersion, NewEvent, RecordedEvent
from .exceptions import ConcurrencyConflict, StreamOrderConflict

# Events of one transaction get positions (xid << POSITION_SHIFT) + 1, + 2, ...
POSITION_SHIFT = 20
MAX_EVENTS_PER_TRANSACTION = (1 << POSITION_SHIFT) - 1


def _append_sql(new_rows: str, *, opening: bool, new_stream: bool) -> bytes:
    """The append statement; `new_rows` yields the new events as v(..., ord), ord counting from 1.

    `opening`: the statement begins its transaction (eventstore.prepared sends the
    BEGIN with it), so the transaction has taken no position yet. `new_stream`:
    one event that must start its stream (NO_STREAM); a stream always holds its
    version 1, so the version key alone turns an existing stream into a clash.
    """
    head = (
        "SELECT 0 AS version, 0::bigint AS position"
        if new_stream
        else """SELECT coalesce(last.stream_version, 0) AS version, coalesce(last.position, 0) AS position
    FROM (SELECT 1) AS one LEFT JOIN LATERAL (
        SELECT stream_version, position FROM eventstore_event
        WHERE stream_id = %(stream_id)s ORDER BY stream_version DESC LIMIT 1
    ) AS last ON true"""
    )
    used = (
        "SELECT 0::bigint AS n"
        if opening
        else f"""-- the last position this transaction took so far: one backward index probe
    SELECT coalesce((
        SELECT e.position - tx.base FROM eventstore_event e
        WHERE e.position > tx.base AND e.position < tx.base + {1 << POSITION_SHIFT}
        ORDER BY e.position DESC LIMIT 1
    ), 0) AS n
    FROM tx"""
    )
    expected = "" if new_stream else "(%(expected)s::int < 0 OR head.version = %(expected)s::int) AND"
    return f"""
WITH head AS ({head}
), tx AS (
    SELECT pg_current_xact_id()::text::bigint << {POSITION_SHIFT} AS base
), used AS MATERIALIZED ({used}
)
INSERT INTO eventstore_event (position, id, stream_id, stream_version, type, schema_version,
                              data, metadata, source, correlation_id, causation_id)
SELECT tx.base + used.n + v.ord, v.id, %(stream_id)s, head.version + v.ord, v.type,
       v.schema_version, v.data, v.metadata, v.source, v.correlation_id, v.causation_id
FROM {new_rows},
     head, tx, used
WHERE {expected}
  -- stream order = position order: the stream's head must not come from a later transaction
  head.position < tx.base + {1 << POSITION_SHIFT}
ORDER BY v.ord
ON CONFLICT DO NOTHING
RETURNING position, stream_version, recorded_at
""".encode()  # bytes, once: psycopg would encode a str query (and hash the result) on every append


_COLUMNS = "id, type, schema_version, data, metadata, source, correlation_id, causation_id, ord"
# A batch travels as one JSON array of events, each an array of the columns (data and
# metadata as JSON objects), written by orjson in one call and taken apart by Postgres.
# Per-column arrays cost more: as text, every quote of every JSON document is escaped
# on the client; in binary, psycopg packs them element by element in Python.
_BATCH_ROWS = f"""(SELECT (r.e->>0)::uuid, r.e->>1, (r.e->>2)::smallint, r.e->3, r.e->4, r.e->>5,
            (r.e->>6)::uuid, (r.e->>7)::uuid, r.ord
     FROM jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS r(e, ord)) AS v({_COLUMNS})"""
# One event (what a command usually appends) travels as plain parameters: no array
# to build on the client and take apart on the server.
_ONE_ROW = f"""(VALUES (%(id)s::uuid, %(type)s::text, %(schema_version)s::smallint, %(data)s::jsonb,
             %(metadata)s::jsonb, %(source)s::text, %(correlation_id)s::uuid,
             %(causation_id)s::uuid, 1::bigint)) AS v({_COLUMNS})"""


def _statements(rows: str, *, new_stream: bool = False) -> tuple[bytes, bytes]:
    """The statement, and its variant for when it begins its transaction."""
    return (
        _append_sql(rows, opening=False, new_stream=new_stream),
        _append_sql(rows, opening=True, new_stream=new_stream),
    )


_APPEND_ONE = _statements(_ONE_ROW)
_APPEND_NEW_STREAM = _statements(_ONE_ROW, new_stream=True)
_APPEND_BATCH = _statements(_BATCH_ROWS)

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
    (sql, opening), params = _statement_for(stream_id, events, expected_version)
    for _attempt in range(_ANY_VERSION_ATTEMPTS):
        rows = prepared.fetchall(sql, params, opening=opening)  # planned once per connection
        if rows or expected_version != ExpectedVersion.ANY:
            break
        # ANY lost a race for the next version to a concurrent writer; under READ
        # COMMITTED the next statement sees the winner, so trying again is safe.
    if len(rows) == len(events):
        # Every event was inserted. Positions grow with the order of `events`
        # (base + n + ordinality), so sorted rows pair with them one to one.
        rows.sort()
        return [_recorded(stream_id, event, row) for event, row in zip(events, rows, strict=True)]
    if rows:
        # Part of a batch landed and part clashed: only possible when some ids of
        # the batch were stored before. The transaction must not keep half of it.
        raise ConcurrencyConflict(stream_id, expected_version)
    return _already_stored_or_conflict(stream_id, events, expected_version)


def _statement_for(
    stream_id: str, events: Sequence[NewEvent], expected_version: int
) -> tuple[tuple[bytes, bytes], dict]:
    if len(events) == 1:
        (e,) = events
        return _APPEND_NEW_STREAM if expected_version == ExpectedVersion.NO_STREAM else _APPEND_ONE, {
            "stream_id": stream_id,
            "expected": expected_version,
            "id": e.id,
            "type": e.type,
            "schema_version": e.schema_version,
            "data": orjson.dumps(e.data).decode(),
            "metadata": orjson.dumps(e.metadata).decode(),
            "source": e.source,
            "correlation_id": e.correlation_id,
            "causation_id": e.causation_id,
        }
    rows = [
        (e.id, e.type, e.schema_version, e.data, e.metadata, e.source, e.correlation_id, e.causation_id)
        for e in events
    ]
    return _APPEND_BATCH, {
        "stream_id": stream_id,
        "expected": expected_version,
        "events": orjson.dumps(rows).decode(),
    }


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
    position, stream_version, recorded_at = row
    return RecordedEvent(
        id=_uuid(event.id),
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


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    # An id given as text is returned as the UUID a reader of the log gets.
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def stream_version(stream_id: str) -> int:
    """The stream's current version (0 when it has no events)."""
    with connection.cursor() as cursor:
        cursor.execute(_STREAM_VERSION_SQL, [stream_id])
        return cursor.fetchone()[0]


__all__ = ["ExpectedVersion", "append", "stream_version"]
