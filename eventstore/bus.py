"""Publishing: the one way services record events, as plain calls from publish to the wake-up.

`publish()` (one event) and `publish_many()` (several events of one stream)
validate the data against the type's schema, fill correlation and causation
from the context, and call `_record()`, which, in the caller's transaction,
seals personal values, appends (`eventstore.store.append`), applies the inline
projections (`eventstore.projections.apply_inline_projections`) and queues the
after-commit step (`eventstore.after_commit`: wake the relay, then send
`events_committed`, the one signal, for code outside the event store). A
failing inline projection raises, and the whole transaction rolls back. The
steps after the commit are listed in docs/eventstore.md, "Event lifecycle".
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from . import privacy, store, tracing
from .after_commit import announce_after_commit, events_committed
from .context import about_event, current_causation_id, current_correlation_id, current_metadata
from .envelope import ExpectedVersion, NewEvent, RecordedEvent
from .errors import NotInTransaction
from .ids import new_id
from .projections import apply_inline_projections
from .registry import EventData, EventType, get_event_type
from .store import refusal

__all__ = ["events_committed", "publish", "publish_many"]  # the signal, beside what sends it


def publish(
    event_type: EventType | str,
    *,
    stream_id: str,
    data: dict[str, Any] | EventData,
    expected_version: int = ExpectedVersion.ANY,
    event_id: uuid.UUID | None = None,
    metadata: dict[str, Any] | None = None,
) -> RecordedEvent:
    """Record one event in the current transaction and return it as stored.

    Must run inside `transaction.atomic()`, so that the caller's state change
    and its events commit together (guarantee 1). Raises InvalidEventData when
    `data` does not fit the type's schema and ConcurrencyConflict when the
    stream is not at `expected_version`. Publishing an `event_id` already
    stored returns the stored event and has no effect (no inline projection
    runs again); EventIdConflict when that id holds another stream, type or data.
    """
    db = _require_transaction()
    if tracing.recording():
        # The event's metadata takes the context of this span: its readers continue from it.
        with tracing.publishing(getattr(event_type, "name", event_type), stream_id):
            return _publish(db, event_type, stream_id, data, expected_version, event_id, metadata)
    return _publish(db, event_type, stream_id, data, expected_version, event_id, metadata)


def _publish(db, event_type, stream_id, data, expected_version, event_id, metadata) -> RecordedEvent:
    correlation_id, causation_id = _cause()
    new_event = _new_event(
        event_type,
        data,
        event_id=event_id,
        metadata=_metadata(metadata),
        correlation_id=correlation_id,
        causation_id=causation_id,
    )
    with about_event(new_event.id):  # log lines of the append and inline projections name it
        return _record(db, stream_id, [new_event], expected_version)[0]


def publish_many(
    stream_id: str,
    events: Sequence[tuple[EventType | str, dict[str, Any] | EventData]],
    *,
    expected_version: int = ExpectedVersion.ANY,
    metadata: dict[str, Any] | None = None,
) -> list[RecordedEvent]:
    """Record several events of one stream in one statement (same rules as publish()).

    The events get consecutive versions; `expected_version` applies to the
    first; all of them land, or none. For a command that records several
    events of one stream, and for imports. Outside any
    event context, the call is one unit of work: its events share one new
    correlation id.
    """
    if not events:
        return []
    db = _require_transaction()
    merged = _metadata(metadata)
    correlation_id, causation_id = _cause()
    traced = tracing.recording()

    def new_event(event_type, data) -> NewEvent:
        if traced:
            # A span of its own per event, as publish() makes: the event's metadata carries
            # it, so the relay and the handlers of this event continue from this span.
            with tracing.publishing(getattr(event_type, "name", event_type), stream_id):
                return _new_event(
                    event_type,
                    data,
                    metadata=_metadata(metadata),
                    correlation_id=correlation_id,
                    causation_id=causation_id,
                )
        # Each event gets its own copy: code changing one event's metadata must not change another's.
        return _new_event(
            event_type, data, metadata=dict(merged), correlation_id=correlation_id, causation_id=causation_id
        )

    return _record(
        db, stream_id, [new_event(event_type, data) for event_type, data in events], expected_version
    )


def _require_transaction() -> BaseDatabaseWrapper:
    """The default database's wrapper (looked up once per call), once it is in `transaction.atomic()`."""
    db = connections[DEFAULT_DB_ALIAS]
    # The event rows and the caller's state changes must commit together, or neither.
    if not db.in_atomic_block:
        raise NotInTransaction("publish() must be called inside transaction.atomic()")
    return db


def _metadata(given: dict[str, Any] | None) -> dict[str, Any]:
    """The context's metadata with `given` merged over it, and the trace context (a new dict)."""
    return tracing.add_trace_context({**current_metadata(), **given} if given else current_metadata())


def _cause() -> tuple[uuid.UUID, uuid.UUID]:
    """Correlation and causation ids of what is published now (a new unit of work outside any)."""
    correlation_id = current_correlation_id() or uuid.uuid4()
    # The first event of a request is caused by the request itself.
    return correlation_id, current_causation_id() or correlation_id


def _new_event(
    event_type,
    data,
    *,
    metadata: dict[str, Any],
    correlation_id: uuid.UUID,
    causation_id: uuid.UUID,
    event_id: uuid.UUID | None = None,
) -> NewEvent:
    if isinstance(event_type, str):
        event_type = get_event_type(event_type)
    return NewEvent(
        id=event_id or new_id(),  # a supplied id is kept; a new one is time-ordered (eventstore/ids.py)
        type=event_type.name,
        schema_version=event_type.version,
        data=event_type.validate(data),
        source=event_type.source,
        correlation_id=correlation_id,
        causation_id=causation_id,
        metadata=metadata,
    )


def _record(
    db: BaseDatabaseWrapper, stream_id: str, events: list[NewEvent], expected_version: int
) -> list[RecordedEvent]:
    """Append `events` in the caller's transaction, apply inline projections, queue the wake-up.

    Personal values are sealed before they reach the table (docs/privacy.md).
    Inline projections and the caller get the event as a reader sees it now:
    plaintext, or the erased marker for a subject forgotten before.
    """
    keyring = privacy.KeyRing()
    sealed = [privacy.seal_event(stream_id, event, keyring) for event in events]
    appended = store.append(stream_id, sealed, expected_version)
    if isinstance(appended, refusal.AlreadyStored):
        # Every id was stored before: the same events again (else EventIdConflict) and no
        # second effect: no inline projection runs and nothing new is announced (guarantee 4).
        refusal.require_same_data(events, appended)
        return list(appended)
    if appended.may_hold_sealed:
        recorded = [
            privacy.open_appended(given, e, keyring) for given, e in zip(events, appended, strict=True)
        ]
    else:
        recorded = list(appended)  # nothing sealed was sent: the events read as given
    for event in recorded:
        apply_inline_projections(event)
    announce_after_commit(db, recorded)
    return recorded
