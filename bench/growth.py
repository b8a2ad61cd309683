"""Growth bench (issue 22): append, follow and replay rates as the partitioned log grows.

    .venv/bin/python -m bench.growth --sizes 200000 2000000

One database (`BENCH_DATABASE_URL`, default `platform_growth_bench`, recreated)
grows to each size in turn; at each size it measures, on one connection:

- append: `eventstore.bus.publish`, one `bench:thing_recorded` event per
  transaction, for `--append-seconds`;
- follow: `eventstore.reading.follow` over the newest `--window` events (the
  same number at every size, so the rate compares the cost per event);
- replay: `manage.py replay_events --projection eventstore.event_stats` over the
  whole log (the command's own rate, events per second).

The log is filled between sizes by SQL (`fill`): chunks of events inserted
with their keys, one transaction per chunk, as the append would number them.
Partitions are `GROWTH_PARTITION_TRANSACTIONS` transactions wide, so a fill
chunk of `FILL_CHUNK` events makes each partition hold about
`GROWTH_PARTITION_TRANSACTIONS * FILL_CHUNK` events (fewer when other
databases of the cluster take transaction ids meanwhile: positions come from
the cluster's transaction ids). Partitions are kept ahead by the bench itself
(every fill chunk, every 100 appends), as beat does in production. The number
of partitions holding events, and attached, is printed at each size. Nothing here is a test: no time is asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

FILL_CHUNK = 2000
GROWTH_PARTITION_TRANSACTIONS = 512
GROWTH_PARTITIONS_AHEAD = 16

_FILL_SQL = """
WITH tx AS (
    SELECT (SELECT base FROM eventstore_position_base) + (pg_current_xact_id()::text::bigint << 20) AS base
), fresh AS MATERIALIZED (
    SELECT tx.base + n AS position, gen_random_uuid() AS id, n
    FROM tx, generate_series(1, %s) AS n
), keyed AS (
    INSERT INTO eventstore_event_key (id, stream_id, stream_version, position)
    SELECT id, 'fill-' || id, 1, position FROM fresh
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
assert FILL_CHUNK < (1 << 20)


def _environment() -> dict[str, str]:
    os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/platform_growth_bench")
    os.environ["EVENTSTORE_PARTITION_TRANSACTIONS"] = str(GROWTH_PARTITION_TRANSACTIONS)
    os.environ["EVENTSTORE_PARTITIONS_AHEAD"] = str(GROWTH_PARTITIONS_AHEAD)
    from .database import bench_environment

    env = bench_environment()
    env["EVENTSTORE_PARTITION_TRANSACTIONS"] = os.environ["EVENTSTORE_PARTITION_TRANSACTIONS"]
    env["EVENTSTORE_PARTITIONS_AHEAD"] = os.environ["EVENTSTORE_PARTITIONS_AHEAD"]
    return env


def log_size() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM eventstore_event")
        return cursor.fetchone()[0]


def fill(to: int) -> float:
    """Insert events until the log holds `to`; events per second of the fill."""
    from django.db import connection, transaction

    from eventstore import partitions

    have, started = log_size(), time.perf_counter()
    added = 0
    while have + added < to:
        chunk = min(FILL_CHUNK, to - have - added)
        partitions.ensure_ahead()  # xids are the cluster's: other databases take them too
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_FILL_SQL, [chunk])
        added += chunk
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE eventstore_event; ANALYZE eventstore_event_key")
    return added / max(time.perf_counter() - started, 1e-9)


def append_rate(seconds: float) -> float:
    from django.db import transaction

    from bench.benchapp.events import THING_RECORDED, thing_payload
    from eventstore import partitions
    from eventstore.bus import publish

    partitions.ensure_ahead()
    done, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        with transaction.atomic():
            publish(THING_RECORDED, stream_id=f"thing-growth-{done}", data=thing_payload(done))
        done += 1
        if done % 100 == 0:  # beat's job in production: partitions stay ahead of the appends
            partitions.ensure_ahead()
    return done / (time.perf_counter() - started)


def follow_rate(window: int) -> float:
    from django.db import connection

    from eventstore.reading import follow

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT position FROM eventstore_event ORDER BY position DESC OFFSET %s LIMIT 1", [window - 1]
        )
        row = cursor.fetchone()
    after = row[0] - 1 if row else 0
    started = time.perf_counter()
    read = sum(len(batch) for batch in follow(after=after))
    return read / (time.perf_counter() - started)


_CLOSING_LINE = re.compile(r"Replayed (\d+) events into \d+ projection\(s\) in ([\d.]+) s")


def replay_rate(env: dict[str, str]) -> float:
    from .database import ROOT

    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "replay_events",
            "--no-input",
            "--projection",
            "eventstore.event_stats",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    )
    match = _CLOSING_LINE.search(done.stdout)
    if match is None:
        raise RuntimeError(f"replay_events printed no closing line:\n{done.stdout}\n{done.stderr}")
    return int(match[1]) / float(match[2])


def partition_count() -> int:
    from eventstore import partitions

    return sum(1 for _name, lower, upper in partitions.partitions() if lower is None or lower < upper)


def populated_partitions() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(DISTINCT tableoid) FROM eventstore_event")
        return cursor.fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 2_000_000])
    parser.add_argument("--append-seconds", type=float, default=10.0)
    parser.add_argument("--window", type=int, default=100_000)
    parser.add_argument(
        "--keep", action="store_true", help="grow the existing database instead of a fresh one"
    )
    args = parser.parse_args()
    env = _environment()
    os.environ.update(env)
    from . import database

    if not args.keep:
        print("Setting up a fresh growth database ...", flush=True)
        database.recreate()
    import django

    django.setup()
    print(
        "| events in the log | partitions with events / attached | append (events/s, 1 per tx) | "
        "follow newest window (events/s) | replay event_stats (events/s) | fill (events/s) |",
        flush=True,
    )
    print("|---|---|---|---|---|---|", flush=True)
    for size in sorted(args.sizes):
        filled = fill(size)
        appended = append_rate(args.append_seconds)
        followed = follow_rate(args.window)
        replayed = replay_rate(env)
        print(
            f"| {log_size():,} | {populated_partitions()} / {partition_count()} | {appended:,.0f} | "
            f"{followed:,.0f} | {replayed:,.0f} | {filled:,.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
