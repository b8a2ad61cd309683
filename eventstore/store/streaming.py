"""A long batch appended in chunks that travel while the next ones are still being checked.

`publish_many` of a long batch hands the store its events as they are
validated. Sent as one statement, the events would wait until the last was
checked, and Python would then wait for Postgres: the two took turns. Here
each chunk goes out in one libpq pipeline as soon as it is ready, and
Postgres inserts it while Python checks the next; the results are read at
the end (one round trip in all, whatever the number of chunks).

The batch keeps the guarantees of a single statement:
- the first chunk checks the expected version; every later one appends only
  behind this transaction's own head of the stream (`APPEND_CONTINUED`), so
  after a clash nothing more lands;
- the chunks run inside a savepoint, so an event that fails validation
  midway takes the chunks already inserted back with it, and the caller's
  transaction is as it was before the call, as with a short batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import orjson
from django.db import connection, transaction
from psycopg import pq

from .. import prepared
from ..envelope import ExpectedVersion, NewEvent, RecordedEvent
from ..errors import TransactionEventLimit
from ..registry import get_event_type
from . import append, outcome
from .statements import APPEND_BATCH, APPEND_CONTINUED, MAX_EVENTS_PER_TRANSACTION

# Events per chunk: the client sends a chunk while Postgres inserts the one before;
# sizes from 25 to 50 do alike (docs/benchmarks.md).
CHUNK = 25
_SAVEPOINT = b"SAVEPOINT eventstore_batch"
_ROLLBACK = b"ROLLBACK TO SAVEPOINT eventstore_batch"
_RELEASE = b"RELEASE SAVEPOINT eventstore_batch"


def append_streaming(
    stream_id: str, events: Iterable[NewEvent], expected_version: int
) -> list[RecordedEvent]:
    """Append `events` (an iterable that may raise as it validates) like `append`, chunk by chunk.

    Events must hold nothing to seal (the caller checks: no SQL may run while
    the pipeline is open, and sealing may need to load keys).
    """
    sent: list[NewEvent] = []
    with prepared.pipeline() as line:
        line.command(_SAVEPOINT)
        try:
            for chunk in _chunks(events):
                if len(sent) + len(chunk) > MAX_EVENTS_PER_TRANSACTION:
                    raise TransactionEventLimit(0, len(sent) + len(chunk), MAX_EVENTS_PER_TRANSACTION)
                if sent:
                    expected = expected_version + len(sent) if expected_version >= 0 else ExpectedVersion.ANY
                    line.send(APPEND_CONTINUED, _params(stream_id, chunk, expected))
                else:
                    line.send(
                        APPEND_BATCH[0], _params(stream_id, chunk, expected_version), opening=APPEND_BATCH[1]
                    )
                line.flush()
                sent.extend(chunk)
        except BaseException:
            line.command(_ROLLBACK)  # validation failed midway: undo what was sent
            line.command(_RELEASE)
            line.close()
            if connection.connection.pgconn.transaction_status == pq.TransactionStatus.INERROR:
                transaction.set_rollback(True)  # a chunk failed too: the transaction cannot go on
            raise
        line.command(_RELEASE)
        rows = [row for result in line.finish() for row in line.rows(result)]
    if not rows and expected_version == ExpectedVersion.ANY and sent:
        # ANY lost a race for the next version: the plain append tries again.
        return append(stream_id, sent, expected_version)
    return outcome(stream_id, sent, rows, expected_version)


class ValidatedAsRead:
    """The events of a long batch, each validated and made a NewEvent as the store takes it.

    What `event_published` carries for such a batch instead of a list: iterate
    it once; InvalidEventData may come out of the iteration. Making an event
    runs no SQL (validation only), as it must: the store's pipeline is open then.
    """

    __slots__ = ("_items", "_make", "source")

    def __init__(self, items: Sequence[tuple], make: Callable[..., NewEvent]) -> None:
        self._items = items
        self._make = make
        first = items[0][0]
        self.source = (
            get_event_type(first) if isinstance(first, str) else first
        ).source  # the signal's sender

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):
        make = self._make
        return (make(event_type, data) for event_type, data in self._items)


def _chunks(events: Iterable[NewEvent]) -> Iterator[list[NewEvent]]:
    chunk: list[NewEvent] = []
    for event in events:
        chunk.append(event)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _params(stream_id: str, chunk: list[NewEvent], expected_version: int) -> dict:
    rows = [e.row() for e in chunk]
    return {"stream_id": stream_id, "expected": expected_version, "events": orjson.dumps(rows).decode()}
