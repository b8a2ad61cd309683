"""Why an append inserted fewer events than it was given, told apart after the fact.

The append's `ON CONFLICT DO NOTHING` (and its guards on stream order and the
transaction's range of positions) turn every clash into "fewer rows". This
module looks at what is stored and names the case:

- every event was stored before, in this stream, as the same type: the append
  is a no-op and returns them as `AlreadyStored` (the bus then checks the data
  and runs no projection: guarantee 4);
- an id stored before in another stream, as another type, or next to ids that
  are new, or whose event was archived (its key stays): `EventIdConflict`;
- the transaction's events would leave its range of positions: `TransactionEventLimit`;
- the stream's head comes from a later transaction: `StreamOrderConflict` (rerun),
  with `positions_behind` set when the head is "later" only because this
  cluster's ids are behind its log (migration 0006);
- otherwise the stream is not at the expected version: `ConcurrencyConflict`.

Only this slow path runs these reads; the append itself stays one statement.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from django.db import connection

from ..envelope import NewEvent, RecordedEvent
from ..errors import (
    ConcurrencyConflict,
    EventIdConflict,
    EventStoreError,
    StreamOrderConflict,
    TransactionEventLimit,
)
from .statements import MAX_EVENTS_PER_TRANSACTION, POSITION_SHIFT, TX_BASE


class AlreadyStored(list):
    """The stored events of an append whose ids were all stored before: it wrote nothing."""


# The stream's version and head, this transaction's base, how many positions it took so
# far, and whether this cluster's ids are behind its log (migration 0006: a log that came
# from another cluster, on a connection opened before it arrived). The log is read through
# migration 0014's functions, which prune to the partitions that can hold the answer.
_STATE_SQL = f"""
WITH tx AS (SELECT {TX_BASE} AS base)
SELECT coalesce((SELECT max(stream_version) FROM eventstore_event_key WHERE stream_id = %s), 0),
       coalesce((SELECT max(position) FROM eventstore_event_key WHERE stream_id = %s), 0),
       tx.base,
       eventstore_positions_taken(),
       eventstore_next_position() <= eventstore_newest_position()
FROM tx
"""


# A key whose event is no longer in the log: its partition was archived (migration 0010).
_ARCHIVED_KEY_SQL = "SELECT id FROM eventstore_event_key WHERE id = ANY(%s::uuid[]) AND NOT (position = ANY(%s::bigint[])) LIMIT 1"


def diagnose(
    stream_id: str, events: Sequence[NewEvent], inserted: Sequence[tuple], expected_version: int
) -> AlreadyStored | EventStoreError:
    """The stored events when `events` were all stored before; else the refusal that applies.

    `inserted` are the rows (position first) the append did insert, when only part of a batch landed.
    """
    from ..reading import read_events_by_id  # late: reading imports the registry

    landed = {row[0] for row in inserted}
    stored_before = [e for e in read_events_by_id([e.id for e in events]) if e.position not in landed]
    if stored_before:
        if len(stored_before) < len(events):
            return EventIdConflict(
                stored_before[0].id, "stored before, while other events of the same batch are new"
            )
        for given, stored in zip(events, stored_before, strict=True):
            if stored.stream_id != stream_id:
                return EventIdConflict(stored.id, f"stored in stream {stored.stream_id!r}, not {stream_id!r}")
            if stored.type != given.type:
                return EventIdConflict(stored.id, f"stored as {stored.type!r}, not {given.type!r}")
        return AlreadyStored(stored_before)
    with connection.cursor() as cursor:
        cursor.execute(_ARCHIVED_KEY_SQL, [[e.id for e in events], list(landed)])
        archived = cursor.fetchone()
        if archived:
            return EventIdConflict(archived[0], "stored before and since archived (manage.py archive_events)")
        cursor.execute(_STATE_SQL, [stream_id, stream_id])
        actual, head_position, base, taken, behind = cursor.fetchone()
    already = taken - len(landed)  # positions this transaction took before this append
    if already + len(events) > MAX_EVENTS_PER_TRANSACTION:
        return TransactionEventLimit(already, len(events), MAX_EVENTS_PER_TRANSACTION)
    if head_position >= base + (1 << POSITION_SHIFT):
        conflict = StreamOrderConflict(stream_id, expected_version, actual)
        conflict.positions_behind = behind  # atomic_command catches them up before its rerun
        return conflict
    return ConcurrencyConflict(stream_id, expected_version, actual)


def require_same_data(given: Sequence[NewEvent], stored: Sequence[RecordedEvent]) -> None:
    """Refuse an idempotent append whose events carry other data than the stored ones.

    `given` in plaintext, at the type's current version; `stored` as a reader sees
    them (opened, upcast). Compared as JSON, as they were written. Metadata is not
    compared: a retried request legitimately comes with another path, time or agent.
    """
    for new, old in zip(given, stored, strict=True):
        if orjson.loads(orjson.dumps(new.data)) != old.data:
            raise EventIdConflict(old.id, "stored with other data")
