"""Migration 0011 rehearsed online (issue 22): how long it takes and how long it holds appends.

    .venv/bin/python -m bench.migration_online --events 1000000 [--prepared]

A fresh database (`BENCH_DATABASE_URL`, default `platform_migration_bench`) is
migrated to `eventstore 0010` (the unpartitioned log) and filled by SQL with
`--events` events. Then `--writers` connections append at `--rate` events per
second each, one event per transaction, with the append statements of the code
before 0011 (read from `--before` with `git show`: the processes still running
while a deployment migrates), alternately the first event of a new stream and
the second event of the stream before. While they write:

- baseline: `--settle` seconds of writes alone;
- prepare (with `--prepared`): `manage.py prepare_partitioned_log`;
- migrate: `manage.py migrate eventstore 0011`;
- after: `--settle` seconds more, the same old code writing.

Each write's latency runs from its scheduled instant (so a write held up by a
lock counts its wait) to its commit. Printed per phase: writes, failed writes,
p50 / p99 / max latency; the wall time of each command; and, at the end,
events without a key (written by the old code after 0011 with nothing to give
them one). Nothing here is a test: no time is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid

import orjson
import psycopg

from .benchapp.events import thing_payload
from .database import ROOT, bench_environment, connect_params
from .partition_ab import _git_show, _module_constants

FILL_CHUNK = 10_000
_FILL_SQL = """
WITH fresh AS MATERIALIZED (
    SELECT (SELECT base FROM eventstore_position_base) + (pg_current_xact_id()::text::bigint << 20) + n AS position,
           gen_random_uuid() AS id, n
    FROM generate_series(1, %s) AS n
)
INSERT INTO eventstore_event (position, id, stream_id, stream_version, type, schema_version, data,
                              metadata, source, correlation_id, causation_id)
SELECT position, id, 'fill-' || id, 1, 'bench:thing_recorded', 1,
       jsonb_build_object('thing_id', gen_random_uuid(), 'name', 'thing number ' || n, 'kind', 'widget',
                          'colour', 'blue', 'quantity', n %% 1000, 'price', 12.5,
                          'tags', jsonb_build_array('alpha', 'beta', 'gamma'), 'owner_id', 42, 'active', true,
                          'note', 'A note of ordinary length, as a user would type it when recording a thing.'),
       '{"path": "/bench"}'::jsonb, 'bench', id, id
FROM fresh
"""


class Writer(threading.Thread):
    """One connection appending at a steady rate with the old code's statements."""

    def __init__(self, number: int, rate: float, statements: dict) -> None:
        super().__init__(daemon=True)
        self.number, self.interval, self.statements = number, 1 / rate, statements
        self.results: list[tuple[float, float, str | None]] = []  # (scheduled instant, latency s, error)
        self.stop = threading.Event()

    def run(self) -> None:
        conn = psycopg.connect(**connect_params())
        due, n = time.perf_counter(), 0
        while not self.stop.is_set():
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            new_stream = n % 2 == 0
            stream = f"w{self.number}-{n if new_stream else n - 1}"
            sql = self.statements["APPEND_NEW_STREAM" if new_stream else "APPEND_ONE"][1]
            correlation = uuid.uuid4()
            params = {
                "stream_id": stream,
                "expected": 1 if not new_stream else 0,
                "id": uuid.uuid4(),
                "type": "bench:thing_recorded",
                "schema_version": 1,
                "data": orjson.dumps(thing_payload(n)).decode(),
                "metadata": '{"path": "/bench"}',
                "source": "bench",
                "correlation_id": correlation,
                "causation_id": correlation,
            }
            error = None
            try:
                rows = conn.execute(sql, params).fetchall()
                conn.commit()
                if len(rows) != 1:
                    error = f"stored {len(rows)} events"
            except psycopg.Error as failed:
                conn.rollback()
                error = f"{type(failed).__name__}: {failed}".splitlines()[0]
            self.results.append((due, time.perf_counter() - due, error))
            n += 1
            due += self.interval
        conn.close()


def _manage(env: dict, *arguments: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "manage.py", *arguments], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - started


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=20.0, help="appends per second per writer")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds of writes before and after")
    parser.add_argument("--prepared", action="store_true", help="run prepare_partitioned_log first")
    parser.add_argument("--before", default="16c66d4", help="a commit before migration 0011")
    args = parser.parse_args()
    os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/platform_migration_bench")
    env = {**os.environ, **bench_environment()}
    params = connect_params()
    if not params["dbname"].endswith("bench"):
        raise SystemExit("the database name must end in 'bench'")
    with psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{params["dbname"]}" WITH (FORCE)')
        server.execute(f'CREATE DATABASE "{params["dbname"]}"')
    _manage(env, "migrate", "eventstore", "0010", "--no-input", "--verbosity", "0")

    started = time.perf_counter()
    with psycopg.connect(**params) as conn:
        for offset in range(0, args.events, FILL_CHUNK):
            conn.execute(_FILL_SQL, [min(FILL_CHUNK, args.events - offset)])
            conn.commit()
        conn.execute("ANALYZE eventstore_event")
        conn.commit()
        size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('eventstore_event'))").fetchone()[0]
    print(f"Filled {args.events:,} events ({size}) in {time.perf_counter() - started:,.0f} s", flush=True)

    old = _module_constants(_git_show(args.before, "eventstore/store/statements.py"))
    statements = {name: old[name] for name in ("APPEND_NEW_STREAM", "APPEND_ONE")}
    writers = [Writer(k, args.rate, statements) for k in range(args.writers)]
    phases = [("baseline", time.perf_counter())]  # each phase from its start to the next one's
    for writer in writers:
        writer.start()
    time.sleep(args.settle)
    timings = {}
    if args.prepared:
        phases.append(("prepare", time.perf_counter()))
        timings["prepare_partitioned_log"] = _manage(env, "prepare_partitioned_log")
    phases.append(("migrate", time.perf_counter()))
    timings["migrate eventstore 0011"] = _manage(env, "migrate", "eventstore", "0011", "--no-input")
    phases.append(("after", time.perf_counter()))
    time.sleep(args.settle)
    for writer in writers:
        writer.stop.set()
    for writer in writers:
        writer.join()

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\n{args.events:,} events, {args.writers} writers x {args.rate:g}/s, "
        f"{'prepared' if args.prepared else 'plain 0011'}; load average {load}"
    )
    for command, seconds in timings.items():
        print(f"- `{command}`: {seconds:.1f} s")

    def phase_of(due: float) -> str:
        return [name for name, start in phases if start <= due][-1]

    results = [
        (phase_of(due), latency, error) for writer in writers for due, latency, error in writer.results
    ]
    print("\n| phase | writes | failed | p50 (ms) | p99 (ms) | max (ms) |\n|---|---:|---:|---:|---:|---:|")
    for name in ("baseline", "prepare", "migrate", "after"):
        done = [latency for p, latency, error in results if p == name and error is None]
        failed = [error for p, _latency, error in results if p == name and error is not None]
        if not done and not failed:
            continue
        median = statistics.median(done) * 1e3 if done else float("nan")
        print(
            f"| {name} | {len(done) + len(failed)} | {len(failed)} | {median:.1f} | "
            f"{_percentile(done, 0.99) * 1e3:.1f} | {max(done, default=float('nan')) * 1e3:.1f} |"
        )
        for error in sorted(set(failed))[:3]:
            print(f"  failed: {error}")
    with psycopg.connect(**params) as conn:
        keyless = conn.execute(
            "SELECT count(*) FROM eventstore_event e WHERE NOT EXISTS "
            "(SELECT 1 FROM eventstore_event_key k WHERE k.id = e.id AND k.position = e.position)"
        ).fetchone()[0]
        total = conn.execute("SELECT count(*) FROM eventstore_event").fetchone()[0]
    print(f"\nEvents in the log: {total:,}; without their key: {keyless:,}")


if __name__ == "__main__":
    main()
