"""Locks each statement of the log takes, before and after migration 0014 and the windowed reads (issue 22).

    BENCH_DATABASE_URL=postgres://.../growth_narrow_bench .venv/bin/python -m bench.partition_locks

On a grown log (bench.growth), each statement runs in a transaction of its own
and the relation locks its backend then holds on the log's partitions and
their indexes are counted (pg_locks), with the partitions attached. "before"
is the statement as it was up to commit 9dae264 (for the hot statements) or
32f99de (the delivery check, the admin's search);
"after" is what the code sends now ("none": refused, nothing sent). A read of the log cut into windows of
partitions (partitions.position_windows) is shown by its first statement, of
at most READ_WINDOW_PARTITIONS partitions. Nothing is changed: every
transaction is rolled back.
"""

from __future__ import annotations

import json
import os

import psycopg

from . import database
from .database import connect_params

_LOCKS = """
SELECT count(*) FROM pg_locks l
WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation'
  AND l.relation IN (SELECT relid FROM pg_partition_tree('eventstore_event')
                     UNION ALL
                     SELECT x.indexrelid FROM pg_index x
                     WHERE x.indrelid IN (SELECT relid FROM pg_partition_tree('eventstore_event')))
"""
_NO_SUCH_CORRELATION = "00000000-0000-4000-8000-000000000000"
_TX_BASE = "(SELECT base FROM eventstore_position_base) + (pg_current_xact_id()::text::bigint << 20)"

# (what, before, after): the statements as the code sends them, parameters inlined where the
# code binds them on the client.
STATEMENTS = [
    (
        "position catch-up (every new connection)",
        "SELECT max(position) FROM eventstore_event",
        "SELECT eventstore_catch_up_positions()",
    ),
    (
        "relay: horizon and held back (every relay batch)",
        "SELECT (SELECT max(position) FROM eventstore_event) >= eventstore_horizon()",
        "SELECT eventstore_newest_position() >= eventstore_horizon()",
    ),
    (
        "stream runner: newest position (every poll)",
        "SELECT coalesce(max(position), 0) FROM eventstore_event",
        "SELECT eventstore_newest_position()",
    ),
    (
        "append after the first of its transaction: positions taken",
        f"SELECT (SELECT e.position - tx.base FROM eventstore_event e WHERE e.position > tx.base"
        f" AND e.position < tx.base + 1048576 ORDER BY e.position DESC LIMIT 1) FROM (SELECT {_TX_BASE} AS base) tx",
        "SELECT eventstore_positions_taken()",
    ),
    (
        "/metrics: head position",
        "SELECT position FROM eventstore_event WHERE position < {horizon} ORDER BY position DESC LIMIT 1",
        "SELECT eventstore_last_position_below({horizon})",
    ),
    (
        "/health/ and /metrics: events in the default partition",
        "SELECT count(*) FROM (SELECT FROM eventstore_event WHERE position >= {head} ORDER BY position LIMIT 100000) o",
        "SELECT eventstore_default_partition_rows(100000)",
    ),
    (
        "replay: one batch from the start (bounded by the horizon / by one partition; a build's windows reach 64)",
        "SELECT position FROM eventstore_event WHERE position > 0 AND position < {horizon} ORDER BY position LIMIT 20000",
        "SELECT position FROM eventstore_event WHERE position > {first} AND position <= {window}"
        " AND position < {horizon} ORDER BY position LIMIT 20000",
    ),
    (
        "the partitions' bounds from the catalog (a replay's windows, archive_events, verify_delivery)",
        "SELECT * FROM eventstore_partition_upper_bounds()",
        "SELECT * FROM eventstore_partition_upper_bounds()",
    ),
    (
        "verify_delivery: one batch of the log (a ledger from the start)",
        "SELECT position, id, stream_id FROM eventstore_event WHERE position > 0 AND position <= {horizon}"
        " ORDER BY position LIMIT 10000",
        "SELECT position, id, stream_id FROM eventstore_event WHERE position > 0 AND position <= {ledger_window}"
        " ORDER BY position LIMIT 10000",
    ),
    (
        "admin: search by a correlation id (no event found: every window read)",
        "SELECT position FROM eventstore_event WHERE position IN (SELECT position FROM eventstore_event_key"
        f" WHERE stream_id = '{_NO_SUCH_CORRELATION}' UNION ALL SELECT position FROM eventstore_event"
        f" WHERE correlation_id = '{_NO_SUCH_CORRELATION}') ORDER BY position DESC LIMIT 100",
        f"SELECT position FROM eventstore_event WHERE correlation_id = '{_NO_SUCH_CORRELATION}'"
        " AND position > {newest_window} ORDER BY position DESC LIMIT 10000",
    ),
    (
        "read_all from after=0: a page of 1,000 (API event list, a backfill from the start)",
        "SELECT position FROM eventstore_event WHERE position > 0 AND position < {horizon}"
        " ORDER BY position LIMIT 1000",
        "SELECT position FROM eventstore_event WHERE position > 0 AND position <= {ledger_window}"
        " AND position < {horizon} ORDER BY position LIMIT 1000",
    ),
    (
        "read_all by stream from after=0 (its keys, each event read by a lateral join)",
        "SELECT e.position FROM eventstore_event_key k CROSS JOIN LATERAL (SELECT position FROM eventstore_event e"
        f" WHERE e.position = k.position) e WHERE k.position > 0 AND k.position < {{horizon}}"
        f" AND k.stream_id = '{_NO_SUCH_CORRELATION}' ORDER BY k.stream_version LIMIT 1000",
        "SELECT e.position FROM eventstore_event_key k CROSS JOIN LATERAL (SELECT position FROM eventstore_event e"
        " WHERE e.position = k.position AND e.position > 0 AND e.position <= {ledger_window}) e"
        " WHERE k.position > 0 AND k.position <= {ledger_window} AND k.position < {horizon}"
        f" AND k.stream_id = '{_NO_SUCH_CORRELATION}' ORDER BY k.stream_version LIMIT 1000",
    ),
    (
        "admin event list sorted by type (refused since: a 400, no read)",
        "SELECT position FROM eventstore_event ORDER BY type DESC, position DESC LIMIT 100",
        None,
    ),
    (
        "admin filter counts, ?_facets (refused since: a 400, no read)",
        "SELECT count(*) FILTER (WHERE source = 'auth'), count(*) FILTER (WHERE source = 'links')"
        " FROM eventstore_event",
        None,
    ),
    (
        "archive_events: one partition described and exported (read by its name)",
        'SELECT count(*), min(position), max(position), max(recorded_at) FROM "{first_partition}"',
        'SELECT count(*), min(position), max(position), max(recorded_at) FROM "{first_partition}"',
    ),
]


def _one(conn, sql: str):
    return conn.execute(sql).fetchone()[0]


def main() -> None:
    os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/platform_growth_bench")
    os.environ.update(database.bench_environment())
    import django

    django.setup()  # eventstore's modules import its models
    from eventstore.partitions import READ_WINDOW_PARTITIONS

    with psycopg.connect(**connect_params(), autocommit=True) as conn:
        values = {
            "horizon": _one(conn, "SELECT eventstore_horizon()"),
            "head": _one(conn, "SELECT upper_bound FROM eventstore_partition_head"),
            "partitions": _one(
                conn, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'eventstore_event'::regclass"
            ),
            "span": int(os.environ.get("EVENTSTORE_PARTITION_TRANSACTIONS", "512")) << 20,
        }
        first = _one(conn, "SELECT min(position) - 1 FROM eventstore_event_key")
        bounds = conn.execute(
            "SELECT name, upper_bound FROM eventstore_partition_upper_bounds() ORDER BY upper_bound"
        ).fetchall()
        windowed = READ_WINDOW_PARTITIONS
        values.update(
            first=first,
            window=first + values["span"],
            ledger_window=bounds[min(windowed, len(bounds)) - 1][1] - 1,  # the end of the first window
            newest_window=bounds[max(len(bounds) - windowed, 0)][1] - 1,  # below the newest window
            first_partition=bounds[0][0],
        )
        print(json.dumps({"partitions attached": values["partitions"]}))
        print("| statement | relation locks before | after |")
        print("|---|---:|---:|")
        for what, before, after in STATEMENTS:
            counts = []
            for sql in (before, after):
                if sql is None:  # no statement is sent now
                    counts.append("none")
                    continue
                conn.execute("BEGIN")
                try:
                    conn.execute(sql.format(**values)).fetchall()
                    counts.append(_one(conn, _LOCKS))
                except psycopg.Error as exc:  # the lock table itself may run out: that is a finding
                    counts.append(type(exc).__name__)
                finally:
                    conn.execute("ROLLBACK")
            print(f"| {what} | {counts[0]} | {counts[1]} |", flush=True)


if __name__ == "__main__":
    main()
