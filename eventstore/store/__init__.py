"""Appending to the log: one SQL statement per append, inside the caller's transaction.

The statement checks the expected stream version, numbers the new events and
inserts them in one round trip. `ON CONFLICT DO NOTHING` turns both kinds of
clash (an event id already stored; a stream version taken by a concurrent
writer) into "fewer rows returned" instead of an aborted transaction, and the
store tells them apart (`_result_of_append`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import orjson
from django.db import connection, transaction

from .. import prepared
from ..envelope import ExpectedVersion, NewEvent, RecordedEvent
from ..errors import TransactionEventLimit
from ..privacy.crypto import SEALED_MARK
from . import refusal
from .statements import (
    APPEND_BATCH,
    APPEND_NEW_STREAM,
    APPEND_ONE,
    MAX_EVENTS_PER_TRANSACTION,
    POSITION_SHIFT,
)

_ANY_VERSION_ATTEMPTS = 5
# A sealed value is an object with this key, and orjson writes keys unescaped: JSON text
# without it holds no sealed value (reading.py tests stored text the same way).
_SEALED_KEY_TEXT = f'"{SEALED_MARK}"'
_STREAM_VERSION_SQL = "SELECT coalesce(max(stream_version), 0) FROM eventstore_event_key WHERE stream_id = %s"


class Appended(list):
    """The events an append recorded, in order.

    `may_hold_sealed` is False when the JSON the append sent names no sealed value:
    the events then read exactly as given, and need no opening for the caller.
    """

    __slots__ = ("may_hold_sealed",)

    def __init__(self, events: list[RecordedEvent], *, may_hold_sealed: bool) -> None:
        super().__init__(events)
        self.may_hold_sealed = may_hold_sealed


def append(stream_id: str, events: Sequence[NewEvent], expected_version: int) -> list[RecordedEvent]:
    """Append `events` to `stream_id` in the current transaction.

    `expected_version` is an exact version (the stream must be at it),
    `ExpectedVersion.NO_STREAM` or `ExpectedVersion.ANY`. Appending events
    whose ids are all stored already is a no-op returning the stored events
    (as `refusal.AlreadyStored`); an id stored with another stream or type
    raises EventIdConflict, and going past the per-transaction limit
    TransactionEventLimit. Raises ConcurrencyConflict when the stream is not at the expected version,
    and its subclass StreamOrderConflict when a transaction that started later
    has already extended the stream: appending now would put this event before
    its predecessor in position order, so the whole command must run again in a
    new transaction (`eventstore.commands.atomic_command` does that).
    Returned events carry the data as given (already the current schema), as
    `Appended` when they all landed.
    """
    if not events:
        return []
    if len(events) > MAX_EVENTS_PER_TRANSACTION:
        raise TransactionEventLimit(0, len(events), MAX_EVENTS_PER_TRANSACTION)
    (sql, sql_first_in_transaction), params = _statement_for(stream_id, events, expected_version)
    for _attempt in range(_ANY_VERSION_ATTEMPTS):
        rows = prepared.fetchall(
            sql, params, first_in_transaction=sql_first_in_transaction
        )  # planned once per connection
        if rows or expected_version != ExpectedVersion.ANY:
            break
        # ANY lost a race for the next version to a concurrent writer; under READ
        # COMMITTED the next statement sees the winner, so trying again is safe.
    return _result_of_append(stream_id, events, rows, expected_version, params)


def _result_of_append(
    stream_id: str, events: Sequence[NewEvent], rows: list[tuple], expected_version: int, params: dict
) -> list[RecordedEvent]:
    """The recorded events, from the rows the append returned; or the refusal it ran into.

    Returns `refusal.AlreadyStored` (a list of the stored events) when every id was stored before.
    """
    if len(rows) == len(events):
        # Every event was inserted. Positions grow with the order of `events`
        # (base + n + ordinality), so sorted rows pair with them one to one.
        rows.sort()
        return Appended(
            [_recorded(stream_id, event, row) for event, row in zip(events, rows, strict=True)],
            may_hold_sealed=_may_hold_sealed(params),
        )
    if rows:
        # Part of a batch landed and part did not. The transaction must not keep
        # half of it: say why (while it can still be read), then mark it for rollback.
        refused = refusal.diagnose(stream_id, events, rows, expected_version)
        transaction.set_rollback(True)
        raise refused
    found = refusal.diagnose(stream_id, events, (), expected_version)
    if isinstance(found, refusal.AlreadyStored):
        return found
    raise found


def _statement_for(
    stream_id: str, events: Sequence[NewEvent], expected_version: int
) -> tuple[tuple[bytes, bytes], dict]:
    if len(events) == 1:
        (e,) = events
        # NewEvent.row() by name, as the one-event statements take it (tests/unit/test_event_row.py).
        return APPEND_NEW_STREAM if expected_version == ExpectedVersion.NO_STREAM else APPEND_ONE, {
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
    rows = [e.row() for e in events]
    return APPEND_BATCH, {
        "stream_id": stream_id,
        "expected": expected_version,
        "events": orjson.dumps(rows).decode(),
    }


def _may_hold_sealed(params: dict) -> bool:
    """Whether the JSON text of the statement's parameters (`_statement_for`) names a sealed value."""
    if "events" in params:
        return _SEALED_KEY_TEXT in params["events"]
    return _SEALED_KEY_TEXT in params["data"] or _SEALED_KEY_TEXT in params["metadata"]


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


__all__ = ["POSITION_SHIFT", "Appended", "ExpectedVersion", "append", "stream_version"]
