"""A/B of the append statement: the log before migration 0011 (one table) against after (partitions + keys).

    .venv/bin/python -m bench.partition_ab [--before COMMIT] [--rounds 20] [--seconds 1] [--preload 200000]

Both logs are built side by side in one database (`BENCH_DATABASE_URL`,
default `platform_ab_bench`, recreated without migrations), each in a schema
of its own, from the migrations themselves: `before` runs 0001's table and
0006's base table and 0008's index; `after` runs the same and then 0011's
conversion. The statements are the event store's own, the old ones read from
`--before` (a commit before 0011) with `git show`. Each log is preloaded with
the same number of events, then one connection per log appends one event per
transaction, the two taking turns for `--seconds` at a time over `--rounds`
rounds (the order alternates), so both see the same machine. Printed per
round and as medians: appends per second and after / before, for the first
event of a new stream and for an event appended to an existing stream.
Nothing here is a test: no time is asserted.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import orjson
import psycopg

from .benchapp.events import thing_payload
from .database import ROOT, connect_params

SCHEMAS = ("before", "after")
STREAMS = 2000  # existing streams the "append to a stream" variant goes round


def _git_show(commit: str, path: str) -> str:
    return subprocess.run(
        ["git", "show", f"{commit}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


def _module_constants(source: str) -> dict:
    """The names a module of this repository defined at another commit (loaded from a temporary file)."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "at_commit.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location("at_commit", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return vars(module)


def _migration_sql(commit: str, name: str, constant: str) -> str:
    return _module_constants(_git_show(commit, f"eventstore/migrations/{name}"))[constant]


def build(conn: psycopg.Connection, before: str) -> None:
    base_table = _migration_sql(before, "0006_position_base.py", "CREATE")
    base_table = base_table[: base_table.index("-- The horizon as a position")]  # the table alone
    old_log = [
        _migration_sql(before, "0001_initial.py", "CREATE_EVENT_TABLE"),
        base_table,
        "CREATE INDEX eventstore_event_source_idx ON eventstore_event (source, position)",
    ]
    for schema in SCHEMAS:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
        conn.execute(f"SET search_path = {schema}")
        for sql in old_log:
            conn.execute(sql)
        if schema == "after":
            current = importlib.import_module("eventstore.migrations.0011_partitioned_log")
            conn.execute(current.CONVERT)
            conn.execute("SELECT eventstore_ensure_partitions(%s, %s)", [(1 << 20) << 20, 4])
        conn.commit()


_PRELOAD_ROWS = """
WITH tx AS (
    SELECT (SELECT base FROM eventstore_position_base) + (pg_current_xact_id()::text::bigint << 20) AS base
), fresh AS MATERIALIZED (
    SELECT tx.base + n AS position, gen_random_uuid() AS id, n,
           CASE WHEN %(offset)s + n <= %(streams)s THEN 'thing-ab-' || (%(offset)s + n - 1)
                ELSE 'thing-' || gen_random_uuid() END AS stream_id
    FROM tx, generate_series(1, %(chunk)s) AS n
){keys}
INSERT INTO eventstore_event (position, id, stream_id, stream_version, type, schema_version, data,
                              metadata, source, correlation_id, causation_id)
SELECT position, id, stream_id, 1, 'bench:thing_recorded', 1,
       jsonb_build_object('name', 'thing number ' || n, 'kind', 'widget', 'colour', 'blue',
                          'tags', jsonb_build_array('alpha', 'beta', 'gamma'), 'owner_id', 42,
                          'note', 'A note of ordinary length, as a user would type it when recording a thing.'),
       '{{"path": "/bench"}}'::jsonb, 'bench', id, id
FROM fresh
"""
_KEYS = """, keyed AS (
    INSERT INTO eventstore_event_key (id, stream_id, stream_version, position)
    SELECT id, stream_id, 1, position FROM fresh
)"""


def preload(conn: psycopg.Connection, schema: str, events: int) -> None:
    """`events` events in chunks of 2,000 per transaction, the first `STREAMS` starting the streams used later."""
    conn.execute(f"SET search_path = {schema}")
    sql = _PRELOAD_ROWS.format(keys=_KEYS if schema == "after" else "")
    for offset in range(0, events, 2000):
        if schema == "after":
            conn.execute("SELECT eventstore_ensure_partitions(%s, 4)", [(1 << 20) << 20])
        conn.execute(sql, {"offset": offset, "streams": STREAMS, "chunk": min(2000, events - offset)})
        conn.commit()
    conn.execute("ANALYZE")
    conn.commit()


def _params(stream_id: str, n: int, expected: int = 0) -> dict:
    correlation = uuid.uuid4()
    return {
        "stream_id": stream_id,
        "expected": expected,
        "id": uuid.uuid4(),
        "type": "bench:thing_recorded",
        "schema_version": 1,
        "data": orjson.dumps(thing_payload(n)).decode(),
        "metadata": '{"path": "/bench"}',
        "source": "bench",
        "correlation_id": correlation,
        "causation_id": correlation,
    }


def run_for(
    conn: psycopg.Connection, sql: str, seconds: float, *, existing: bool, counter: list[int]
) -> float:
    deadline = time.perf_counter() + seconds
    started, done = time.perf_counter(), 0
    while time.perf_counter() < deadline:
        n = counter[0]
        counter[0] += 1
        stream = f"thing-ab-{n % STREAMS}" if existing else f"thing-{uuid.uuid4()}"
        rows = conn.execute(sql, _params(stream, n, expected=-1), prepare=True).fetchall()
        conn.commit()
        if len(rows) != 1:
            raise RuntimeError(f"an append stored {len(rows)} events")
        done += 1
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="16c66d4", help="a commit before migration 0011")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--preload", type=int, default=200_000)
    args = parser.parse_args()
    os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/platform_ab_bench")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    params = connect_params()
    if not params["dbname"].endswith("bench"):
        raise SystemExit("the A/B database name must end in 'bench'")
    with psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{params["dbname"]}" WITH (FORCE)')
        server.execute(f'CREATE DATABASE "{params["dbname"]}"')
    import django

    django.setup()
    from eventstore.store import statements as current

    statements = {
        "before": _module_constants(_git_show(args.before, "eventstore/store/statements.py")),
        "after": {name: getattr(current, name) for name in ("APPEND_NEW_STREAM", "APPEND_ONE")},
    }
    conns = {schema: psycopg.connect(**params) for schema in SCHEMAS}
    build(conns["before"], args.before)
    for schema in SCHEMAS:
        print(f"Preloading {schema} with {args.preload:,} events ...", flush=True)
        preload(conns[schema], schema, args.preload)
    counter = [args.preload]
    for variant, name, existing in (
        ("first event of a new stream", "APPEND_NEW_STREAM", False),
        ("an event appended to an existing stream", "APPEND_ONE", True),
    ):
        rates: dict[str, list[float]] = {schema: [] for schema in SCHEMAS}
        for round_number in range(args.rounds):
            order = SCHEMAS if round_number % 2 == 0 else SCHEMAS[::-1]
            for schema in order:
                sql = statements[schema][name][1].decode()  # the variant that opens its transaction
                rates[schema].append(
                    run_for(conns[schema], sql, args.seconds, existing=existing, counter=counter)
                )
        ratios = [a / b for a, b in zip(rates["after"], rates["before"], strict=True)]
        print(
            f"{variant}: before {statistics.median(rates['before']):,.0f}/s, after "
            f"{statistics.median(rates['after']):,.0f}/s (medians of {args.rounds} rounds of {args.seconds:g} s); "
            f"after / before per round: median {statistics.median(ratios):.3f}, "
            f"range {min(ratios):.3f} - {max(ratios):.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
