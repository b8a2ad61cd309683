"""The append's SQL: one statement per append, in variants chosen by what is known in advance.

Position scheme (docs/eventstore.md): an event's position is the stored base
(migration 0006) plus its top-level transaction id << POSITION_SHIFT plus its
order within the transaction. The base is read inside each statement, from a
one-row table: no extra round trip.

The log is partitioned by position (migration 0010), so its unique keys live
in `eventstore_event_key`: each statement inserts the new events' keys first
(the id, the stream version) and then the events whose keys went in. The
stream's head is read from the keys too: one index probe, whatever the number
of partitions.
"""

from __future__ import annotations

# Events of one transaction get positions (xid << POSITION_SHIFT) + 1, + 2, ...
POSITION_SHIFT = 20
MAX_EVENTS_PER_TRANSACTION = (1 << POSITION_SHIFT) - 1
# This transaction's base position: its events take TX_BASE + 1, + 2, ... (migration 0006).
TX_BASE = (
    f"(SELECT base FROM eventstore_position_base) + (pg_current_xact_id()::text::bigint << {POSITION_SHIFT})"
)
# The last position this transaction took, kept by every append in a transaction-local
# setting: a rollback to a savepoint undoes it together with the rows it counted, and it
# ends with the transaction. An append later in the transaction reads it instead of
# probing the log for its own range (eventstore_positions_taken(), migration 0014, planned
# afresh on every call): figure (24.5) in docs/benchmarks.md, a request's backend CPU.
LAST_POSITION_SETTING = "eventstore.tx_last_position"
_REMEMBER_POSITION = f"set_config('{LAST_POSITION_SETTING}', position::text, true)"


# The events whose keys went in (`keyed`: id, stream_version, position), matched to the
# given rows (`v`) by id and version (an id given twice in one batch lands once). An event
# whose key clashed is not inserted: the append returns fewer rows, as the store expects.
_INSERT_KEYED = """INSERT INTO eventstore_event (position, id, stream_id, stream_version, type, schema_version,
                              data, metadata, source, correlation_id, causation_id)
SELECT k.position, v.id, %(stream_id)s, k.stream_version, v.type,
       v.schema_version, v.data, v.metadata, v.source, v.correlation_id, v.causation_id
FROM v CROSS JOIN head JOIN keyed k ON k.id = v.id AND k.stream_version = head.version + v.ord
ORDER BY k.position
RETURNING position, stream_version, recorded_at"""


def _append_sql(new_rows: str, *, first_in_transaction: bool, new_stream: bool) -> bytes:
    """The append statement; `new_rows` yields the new events as v(..., ord), ord counting from 1.

    `first_in_transaction`: the statement begins its transaction (eventstore.prepared sends the
    BEGIN with it), so the transaction has taken no position yet. `new_stream`:
    one event that must start its stream (NO_STREAM); a stream always holds its
    version 1, so the version key alone turns an existing stream into a clash.
    """
    head = (
        "SELECT 0 AS version, 0::bigint AS position"
        if new_stream
        else """SELECT coalesce(last.stream_version, 0) AS version, coalesce(last.position, 0) AS position
    FROM (SELECT 1) AS one LEFT JOIN LATERAL (
        SELECT stream_version, position FROM eventstore_event_key
        WHERE stream_id = %(stream_id)s ORDER BY stream_version DESC LIMIT 1
    ) AS last ON true"""
    )
    used = (
        "SELECT 0::bigint AS n"
        if first_in_transaction
        # How many positions this transaction took so far. Unset, the setting reads as 0; a
        # value from before the base moved (a restored log, migration 0006) lies below the base.
        else f"""SELECT greatest(coalesce(nullif(current_setting('{LAST_POSITION_SETTING}', true), '')::bigint, 0)
                    - tx.base, 0) AS n FROM tx"""
    )
    expected = "" if new_stream else "(%(expected)s::int < 0 OR head.version = %(expected)s::int) AND"
    return f"""
WITH v AS MATERIALIZED (SELECT * FROM {new_rows}
), head AS ({head}
), tx AS (
    SELECT {TX_BASE} AS base
), used AS MATERIALIZED ({used}
), keyed AS (
    INSERT INTO eventstore_event_key (id, stream_id, stream_version, position)
    SELECT v.id, %(stream_id)s, head.version + v.ord, tx.base + used.n + v.ord
    FROM v, head, tx, used
    WHERE {expected}
      -- stream order = position order: the stream's head must not come from a later transaction
      head.position < tx.base + {1 << POSITION_SHIFT}
      -- a transaction's events stay inside its own range of positions (the store says why not)
      AND used.n + v.ord <= {MAX_EVENTS_PER_TRANSACTION}
    ORDER BY v.ord
    ON CONFLICT DO NOTHING
    -- Rows go in by ord, so positions rise and the last one remembered is the largest.
    RETURNING id, stream_version, position, {_REMEMBER_POSITION}
)
{_INSERT_KEYED}
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


def _statements(rows: str) -> tuple[bytes, bytes]:
    """The statement, and its variant for when it begins its transaction."""
    return _append_sql(rows, first_in_transaction=False, new_stream=False), _append_sql(
        rows, first_in_transaction=True, new_stream=False
    )


# The first event of a new stream, in a statement that begins its transaction (a
# command creating something): its position and version are known in advance, so
# it is a plain INSERT, without the general statement's plan (CTEs, a sort, a
# join) to run on every execution (docs/benchmarks.md).
_FIRST_OF_NEW_STREAM = f"""
WITH keyed AS (
    INSERT INTO eventstore_event_key (id, stream_id, stream_version, position)
    VALUES (%(id)s::uuid, %(stream_id)s, 1, {TX_BASE} + 1)
    ON CONFLICT DO NOTHING
    RETURNING position, {_REMEMBER_POSITION}
)
INSERT INTO eventstore_event (position, id, stream_id, stream_version, type, schema_version,
                              data, metadata, source, correlation_id, causation_id)
SELECT keyed.position, %(id)s::uuid, %(stream_id)s, 1,
       %(type)s::text, %(schema_version)s::smallint, %(data)s::jsonb, %(metadata)s::jsonb,
       %(source)s::text, %(correlation_id)s::uuid, %(causation_id)s::uuid
FROM keyed
RETURNING position, stream_version, recorded_at
""".encode()

APPEND_ONE = _statements(_ONE_ROW)
APPEND_NEW_STREAM = (_append_sql(_ONE_ROW, first_in_transaction=False, new_stream=True), _FIRST_OF_NEW_STREAM)
APPEND_BATCH = _statements(_BATCH_ROWS)
