"""Reading the log: by stream, by correlation id, by id, and following it in order.

Following is gap-safe (guarantee 5): a follower only reads positions below
`horizon()`, the first position that a still-running transaction could take.
Every transaction with a smaller id has finished, so nothing can appear behind
a follower's checkpoint later. See docs/eventstore.md for why this scheme.
"""

from __future__ import annotations

import dataclasses
import gc
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager

import orjson
from django.db import DEFAULT_DB_ALIAS, connection, connections, router, transaction

from . import partitions, prepared, privacy
from .archive import source as archive_source
from .envelope import RecordedEvent
from .errors import GapSafetyUnavailable, UnknownEventType
from .models import Event
from .privacy.crypto import SEALED_MARK
from .registry import EventType, get_event_type

_COLUMNS = (
    "id, position, stream_id, stream_version, type, schema_version, data, metadata, "
    "source, correlation_id, causation_id, recorded_at"
)
_EVENT_COLUMNS = ", ".join(f"e.{name.strip()}" for name in _COLUMNS.split(","))  # beside the key table's
# The oldest transaction id still running in this database (migration 0004 says
# why that is safe), as a position (offset by the stored base, migration 0006):
# other databases' transactions cannot append.
HORIZON_SQL = "eventstore_horizon()"
# The horizon with what gap-safety needs of the session reading it, in the same round trip.
HORIZON_CHECKED_SQL = f"SELECT {HORIZON_SQL}, pg_is_in_recovery(), current_setting('transaction_isolation')"


def to_recorded(
    row: Sequence, keyring: privacy.KeyRing | None = None, *, reveal: bool = True
) -> RecordedEvent:
    """Build a RecordedEvent from a row of `_COLUMNS`, as a reader sees it now.

    Sealed personal values are opened (or become `privacy.ERASED` when their
    subject was forgotten) before the data is upcast, so upcasters always see
    plaintext. `reveal=False` gives the row exactly as stored: sealed, not upcast.
    """
    (
        event_id,
        position,
        stream_id,
        stream_version,
        type_name,
        schema_version,
        data,
        metadata,
        source,
        correlation_id,
        causation_id,
        recorded_at,
    ) = row
    # Django's cursor hands jsonb over as text (JSONField decodes it itself).
    if isinstance(data, str):
        data = orjson.loads(data)
    if isinstance(metadata, str):
        metadata = orjson.loads(metadata)
    event = RecordedEvent(
        id=event_id,
        position=position,
        stream_id=stream_id,
        stream_version=stream_version,
        type=type_name,
        schema_version=schema_version,
        data=data,
        metadata=metadata,
        source=source,
        correlation_id=correlation_id,
        causation_id=causation_id,
        recorded_at=recorded_at,
    )
    return reveal_event(event, keyring) if reveal else event


def reveal_event(event: RecordedEvent, keyring: privacy.KeyRing | None = None) -> RecordedEvent:
    """An event as stored (e.g. relayed through Redis) opened and upcast, as readers see it."""
    return _upcast(privacy.open_event(event, keyring))


def _upcast(event: RecordedEvent) -> RecordedEvent:
    try:
        event_type = get_event_type(event.type)
    except UnknownEventType:
        return event
    if event.schema_version < event_type.version:
        return dataclasses.replace(
            event,
            data=event_type.upcast(event.schema_version, event.data),
            schema_version=event_type.version,
        )
    return event


# A sealed value is an object with this key. Postgres prints jsonb without escaping `$`,
# so stored JSON text lacking it holds no sealed value (a false hit only costs the walk).
_SEALED_KEY_TEXT = f'"{SEALED_MARK}"'


def _may_hold_sealed(stored: str | dict) -> bool:
    return not isinstance(stored, str) or _SEALED_KEY_TEXT in stored


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch of events is fetched and built.

    A batch allocates tens of thousands of rows, dicts and events that all
    survive it and form no reference cycles. Each allocation threshold crossed
    meanwhile makes the collector walk them (and the previous batch, which the
    caller still holds), and their promotion triggers full collections of the
    whole heap, a large share of follow()'s time (docs/benchmarks.md). Paused,
    the collector meets them at its next run after the batch, as it would any
    other objects.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _to_recorded_batch(
    rows: Sequence[Sequence], *, reveal: bool = True, unwrapped: dict | None = None
) -> list[RecordedEvent]:
    """Rows of `_COLUMNS` as readers see them: what `to_recorded` does, for a batch, faster.

    Each event is built once (only an event to upcast is copied), its data
    opened before it is upcast. Only events whose stored JSON may hold a
    sealed value are walked, and all are opened with one key query for the
    whole batch. `unwrapped` lets a follower reuse, batch after batch, data
    keys it already unwrapped (see `privacy.KeyRing`).
    """
    if not reveal:  # as stored: what to_recorded(row, reveal=False) gives, without a call per row
        return [RecordedEvent(*row[:6], _decode(row[6]), _decode(row[7]), *row[8:]) for row in rows]
    return _revealed(_DecodedBatch(rows), unwrapped)


class _DecodedBatch:
    """A batch of rows turned into events, their sealed values found but not opened yet.

    Building it sends no statement (follow() builds it while its next FETCH runs);
    `_revealed` then opens the sealed values (one key query) and upcasts.
    """

    __slots__ = ("events", "sealed_places", "to_upcast")

    def __init__(self, rows: Sequence[Sequence]) -> None:
        events: list[RecordedEvent] = []
        sealed_places: list = []
        event_types: dict[str, EventType | None] = {}
        to_upcast: list[tuple[int, EventType]] = []
        # Names bound once: this loop runs for every event a follower or a rebuild reads
        # (figure "follow() whole log", docs/benchmarks.md, issue 24).
        loads, find_sealed, sealed_key, append = (
            orjson.loads,
            privacy.find_sealed,
            _SEALED_KEY_TEXT,
            events.append,
        )
        for row in rows:
            data, metadata = row[6], row[7]
            if type(data) is str and sealed_key not in data:  # as _may_hold_sealed
                data = loads(data)
            else:
                data = _decode(data)
                find_sealed(data, sealed_places)
            if type(metadata) is str and sealed_key not in metadata:
                metadata = loads(metadata)
            else:
                metadata = _decode(metadata)
                find_sealed(metadata, sealed_places)
            type_name = row[4]
            try:
                event_type = event_types[type_name]
            except KeyError:
                event_type = event_types[type_name] = _event_type_or_none(type_name)
            if event_type is not None and row[5] < event_type.version:
                to_upcast.append((len(events), event_type))
            append(RecordedEvent(row[0], row[1], row[2], row[3], type_name, row[5], data, metadata, *row[8:]))
        self.events, self.sealed_places, self.to_upcast = events, sealed_places, to_upcast


def _revealed(batch: _DecodedBatch, unwrapped: dict | None) -> list[RecordedEvent]:
    """The batch's events as readers see them: sealed values opened, data upcast."""
    events = batch.events
    # In place: `data` and `metadata` were decoded just now and belong to this batch alone.
    privacy.open_found(batch.sealed_places, privacy.KeyRing(unwrapped=unwrapped))
    # Upcasters see plaintext: they run once every value is open.
    for index, event_type in batch.to_upcast:
        event = events[index]
        events[index] = dataclasses.replace(
            event,
            data=event_type.upcast(event.schema_version, event.data),
            schema_version=event_type.version,
        )
    return events


def _envelope(row: Sequence) -> RecordedEvent:
    """An event without its data and metadata (each its own empty dict), for readers of envelopes."""
    return RecordedEvent(*row[:6], {}, {}, *row[8:])


def _envelopes(rows: Sequence[Sequence]) -> list[RecordedEvent]:
    return [_envelope(row) for row in rows]


def _decode(value):
    # Django's cursor hands jsonb over as text (JSONField decodes it itself).
    return orjson.loads(value) if isinstance(value, str) else value


def _event_type_or_none(type_name: str) -> EventType | None:
    try:
        return get_event_type(type_name)
    except UnknownEventType:
        return None


def _query(
    sql: str, params: Iterable = (), *, reveal: bool = True, primary: bool = False
) -> list[RecordedEvent]:
    """Run a read of whole events; a read replica may serve it unless `primary` (see below)."""
    alias = DEFAULT_DB_ALIAS if primary else router.db_for_read(Event)
    with connections[alias].cursor() as cursor, collector_paused():
        cursor.execute(sql, list(params))
        return _to_recorded_batch(cursor.fetchall(), reveal=reveal)


def read_stream(stream_id: str, *, after_version: int = 0, limit: int | None = None) -> list[RecordedEvent]:
    """The stream's events in version order (those committed and visible now), up to `limit`.

    The key table's (stream_id, stream_version) index gives the page's positions
    first (the log has no index by stream: migration 0015); the read then takes
    them as values, so the planner opens only the partitions that hold them (a
    position worked out inside the statement prunes only at run time, after
    every partition was planned and locked: migration 0014). A key and its
    event are inserted by one statement, so a snapshot that sees the key sees
    the event.
    """
    with connections[router.db_for_read(Event)].cursor() as cursor:
        cursor.execute(
            "SELECT position FROM eventstore_event_key WHERE stream_id = %s AND stream_version > %s"
            " ORDER BY stream_version LIMIT %s",
            [stream_id, after_version, limit],
        )
        positions = [row[0] for row in cursor.fetchall()]
    if not positions:
        return []
    return _query(
        f"SELECT {_COLUMNS} FROM eventstore_event WHERE position = ANY(%s) ORDER BY stream_version LIMIT %s",
        [positions, len(positions)],  # the limit restates the page's size: every read of the log has one
    )


# A stream's events in a window of positions, from its keys (the log has no index by stream:
# migration 0015). A key and its event are inserted by one statement, so a snapshot sees both
# or neither. The window's bounds go into the lateral read as well: bounded by the key's
# position alone, it is planned over every partition (and pruned only at run time).
_BY_STREAM = (
    f"eventstore_event_key k CROSS JOIN LATERAL (SELECT {_COLUMNS} FROM eventstore_event e "
    "WHERE e.position = k.position AND e.position > %s AND e.position <= %s) e"
)


def read_correlation(
    correlation_id: uuid.UUID, *, after: int = 0, limit: int | None = None
) -> list[RecordedEvent]:
    """The events of one correlation id after position `after`, in position order, up to `limit`.

    Served by the (correlation_id, position) index, in windows of partitions
    from `after` on (partitions.read_in_windows), each statement planned over
    its window only: bounded by `after` alone, it planned over, and locked,
    every partition above it. It stops at the windows that fill the page.
    """

    def window(low: int, high: int, wanted: int | None) -> list[RecordedEvent]:
        return _query(
            f"SELECT {_COLUMNS} FROM eventstore_event WHERE correlation_id = %s AND position > %s "
            "AND position <= %s ORDER BY position LIMIT %s",
            [correlation_id, low, high, wanted],
        )

    return partitions.read_in_windows(window, limit, after=after)


def read_events_by_id(event_ids: Sequence[uuid.UUID]) -> list[RecordedEvent]:
    """The stored events with these ids, in the order of `event_ids` (missing ones left out).

    The key table gives their positions first; the read takes them as values,
    so the planner opens only the partitions that hold them (migration 0014).
    """
    with connections[router.db_for_read(Event)].cursor() as cursor:
        cursor.execute("SELECT position FROM eventstore_event_key WHERE id = ANY(%s)", [list(event_ids)])
        found_positions = [row[0] for row in cursor.fetchall()]
    if not found_positions:
        return []
    found = {
        e.id: e
        for e in _query(
            f"SELECT {_COLUMNS} FROM eventstore_event WHERE position = ANY(%s)",
            [found_positions],
        )
    }
    return [found[i] for i in event_ids if i in found]


def horizon() -> int:
    """The first position a follower may not read yet (a transaction may still take it).

    Followers fetch it first and filter with the number: everything below it
    belonged to transactions that had finished when it was read, so a later
    statement sees all of them. Inlined as an expression, it would leave the
    planner guessing the range's size, and it guesses a full sort of the log.
    """
    with connection.cursor() as cursor:
        cursor.execute(HORIZON_CHECKED_SQL)
        position, in_recovery, isolation = cursor.fetchone()
    refuse_unless_gap_safe(in_recovery=in_recovery, isolation=isolation)
    return position


def refuse_unless_gap_safe(*, in_recovery: bool, isolation: str) -> None:
    """Raise GapSafetyUnavailable where a follower could skip events (see the exception)."""
    if in_recovery:
        raise GapSafetyUnavailable(
            "the event log is followed on a standby (pg_is_in_recovery()): its horizon does not see "
            "the primary's running transactions, so a follower could skip events; connect the "
            "relay and subscribers to the primary"
        )
    if isolation != "read committed":
        raise GapSafetyUnavailable(
            f"the event log is followed in a {isolation.upper()} transaction: its snapshot may be older "
            "than the horizon, so a follower could skip events; follow it in READ COMMITTED "
            "(the default; check DATABASES OPTIONS isolation_level and default_transaction_isolation)"
        )


def read_all(
    *,
    after: int = 0,
    limit: int = 1000,
    types: Sequence[str] | None = None,
    source: str | None = None,
    stream_id: str | None = None,
    correlation_id: uuid.UUID | None = None,
    reveal: bool = True,
) -> list[RecordedEvent]:
    """Up to `limit` events after position `after`, in position order, gap-safe.

    Only events below the horizon are returned, so a follower that continues
    from the last position it saw never skips one that commits later.
    `reveal=False` returns them as stored (personal values sealed, data not
    upcast): what the relay sends to Redis.

    The positions (after, horizon) are read a window of partitions per
    statement (`_read_windows`), so a reader far behind the head (`after=0`)
    plans over one window at a time, not every partition above `after`; a
    follower near the head sends one statement, as before.
    """
    # Within one stream, version order is position order (docs/eventstore.md): a stream's
    # page is read from its keys in version order (the log has no index by stream); by
    # position, the planner may walk the whole log's primary key looking for its events.
    e = "e." if stream_id else ""
    # The horizon goes in as a number: as an expression in the query it hides the
    # range's end from the planner, which then sorts the whole log (see horizon()).
    below = horizon()
    position = f"{'k.' if stream_id else ''}position"
    where = [f"{position} > %s", f"{position} <= %s", f"{position} < %s"]
    filters: list = []
    if types and len(types) == 1:
        # Equality, so that the (type, position) index gives the order (`= ANY` would not).
        where.append(f"{e}type = %s")
        filters.append(types[0])
    elif types:
        where.append(f"{e}type = ANY(%s)")
        filters.append(list(types))
    if source:
        where.append(f"{e}source = %s")
        filters.append(source)
    if stream_id:
        where.append("k.stream_id = %s")
        filters.append(stream_id)
    if correlation_id:
        where.append(f"{e}correlation_id = %s")
        filters.append(correlation_id)
    if stream_id:
        sql = (
            f"SELECT {_EVENT_COLUMNS} FROM {_BY_STREAM} WHERE {' AND '.join(where)} ORDER BY k.stream_version"
        )
    else:
        sql = f"SELECT {_COLUMNS} FROM eventstore_event WHERE {' AND '.join(where)} ORDER BY position"

    def window(low: int, high: int, wanted: int | None) -> list[RecordedEvent]:
        lateral = [low, high] if stream_id else []  # _BY_STREAM's window
        # The horizon is the primary's: a lagging replica could lack events below it,
        # and a follower continuing after them would skip them for good.
        return _query(
            f"{sql} LIMIT %s", [*lateral, low, high, below, *filters, wanted], reveal=reveal, primary=True
        )

    return _read_windows(window, limit, after=after, below=below)


def _read_windows(read, limit: int, *, after: int, below: int) -> list:
    """`read`'s rows over the positions (after, below), window by window (partitions.read_in_windows),
    the windows cut at the bounds of the partitions this process knows (partitions.known_partitions).

    Each statement carries its window's bounds as literals, so it plans over,
    and locks, that window's partitions only: bounded by `after` and the
    horizon alone, a read from `after=0` planned over every partition. Near
    the head the range lies within one window: one statement, and no read of
    the catalog (the list is read again only once the horizon passes the
    newest partition this process knows). Every statement is bounded by the
    same horizon, read once before the first: every transaction below it had
    finished, so the statements together see what one statement would have.
    """
    if after >= below - 1:  # nothing lies between
        return []
    through = below - 1
    return partitions.read_in_windows(
        read, limit, after=after, through=through, found=partitions.known_partitions(through)
    )


def log_range(
    *, after: int, below_horizon: bool = True, until: int | None = None, types: Sequence[str] | None = None
) -> tuple[str, list]:
    """The WHERE clause (and its parameters) of the stored events that follow() would read.

    Events after position `after`, below the horizon unless `below_horizon` is
    False (see follow()), up to `until` (included), of `types` (all if None).
    """
    where = ["position > %s"]
    params: list = [after]
    if below_horizon:
        where.append("position < %s")
        params.append(horizon())
    if until is not None:
        where.append("position <= %s")
        params.append(until)
    if types is not None:
        where.append("type = ANY(%s)")
        params.append(list(types))
    return " AND ".join(where), params


def follow(
    *,
    after: int = 0,
    batch_size: int = 5000,
    types: Sequence[str] | None = None,
    below_horizon: bool = True,
    with_data: bool = True,
    until: int | None = None,
    limit: int | None = None,
    unwrapped: dict[tuple[str, bytes], bytes] | None = None,
) -> Iterator[list[RecordedEvent]]:
    """Stream the log in position order, in batches, through a server-side cursor.

    Memory stays flat however long the log is. `below_horizon=False` reads
    every event visible now; only a caller that holds locks keeping writers of
    its interest out (a projection rebuild) may use it, see eventstore.replay.
    `with_data=False` gives envelopes only (data and metadata empty, nothing
    opened or upcast): for readers of types, sources and times. `until` (a
    position, included) and `limit` (events) end the reading early; a caller
    should read to the end, as closing the generator rolls back its savepoint.
    `unwrapped` holds the data keys unwrapped so far (privacy.KeyRing): a caller
    that follows in several calls (a rebuild, one per transaction) passes the same dict.
    """
    # Data keys unwrapped for one batch serve the next ones: each batch still reads
    # the wrapped keys afresh, so a subject forgotten meanwhile is unreadable at once.
    if unwrapped is None:
        unwrapped = {}
    archive = archive_source.active()
    if archive is not None and after < archive.last_position:
        # A replay from an archive (eventstore.archive.source): the archived events come first.
        wanted = set(types) if types is not None else None
        while limit is None or limit > 0:
            rows = archive.take(after, limit=min(batch_size, limit or batch_size), until=until, types=wanted)
            if not rows:
                break
            with collector_paused():
                batch = (
                    _to_recorded_batch(rows, unwrapped=unwrapped)
                    if with_data
                    else [_envelope(row) for row in rows]
                )
            after = batch[-1].position
            limit = None if limit is None else limit - len(batch)
            yield batch
        if limit == 0 or (until is not None and after >= until):
            return
    where, params = log_range(after=after, below_horizon=below_horizon, until=until, types=types)
    limit_clause = ""
    if limit is not None:
        limit_clause = " LIMIT %s"
        params.append(limit)
    # Binary rows decode faster (timestamps, uuids); the JSON comes as text for orjson.
    payload = "data::text, metadata::text" if with_data else "NULL, NULL"
    columns = _COLUMNS.replace("data, metadata", payload)
    sql = f"SELECT {columns} FROM eventstore_event WHERE {where} ORDER BY position{limit_clause}"
    # Rows are decoded while the server fetches the next batch (prepared.read_ahead).
    decode = _DecodedBatch if with_data else _envelopes
    with (
        transaction.atomic(),
        closing(
            prepared.read_ahead(
                "eventstore_follow",
                sql,
                params,
                batch_size=batch_size,
                decode=decode,
                paused=collector_paused,
            )
        ) as decoded_batches,
    ):
        for decoded in decoded_batches:
            if with_data:
                with collector_paused():
                    batch = [_revealed(decoded, unwrapped)]
            else:  # nothing was read to decode: each event gets its own empty dicts
                batch = [decoded]
            del decoded
            # Emptied by the yield: this suspended frame keeps no reference to the batch, so a
            # batch the caller has applied and let go is freed at once, not walked by the
            # collector's next run (docs/benchmarks.md, "Rebuild speed").
            yield batch.pop()


def follow_in_windows(
    *, types: Sequence[str] | None = None, with_data: bool = True, batch_size: int = 5000
) -> Iterator[list[RecordedEvent]]:
    """Every event visible now (`follow(below_horizon=False)`), a window of partitions per statement.

    For a one-off reader of the whole log, such as an export: one follow() from
    the start would be planned over, and lock, every partition at once; here
    each statement covers one window (partitions.position_windows) and lets it
    go before the next. Like below_horizon=False, it is a snapshot of what has
    committed, not a follower: nobody continues from where it stopped.
    """
    for low, high in partitions.position_windows(partitions.LOWEST_POSITION, partitions.HIGHEST_POSITION):
        yield from follow(
            after=low,
            until=high,
            types=types,
            below_horizon=False,
            with_data=with_data,
            batch_size=batch_size,
        )
