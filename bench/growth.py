"""Growth bench (issue 22): append, follow and replay rates as the partitioned log grows.

    nice -n 10 ionice -c 3 .venv/bin/python -m bench.growth --sizes 200000 1000000 3000000 10000000

One database (`BENCH_DATABASE_URL`, default `platform_growth_bench`, recreated
unless `--keep`) grows to each size in turn. At each size, `--rounds` rounds of
append and follow take turns (the order alternates), then one replay:

- append: `eventstore.bus.publish`, one `bench:thing_recorded` event per
  transaction (each the first of its stream), for `--append-seconds`;
- follow: `eventstore.reading.follow` over the newest `--window` events (the
  same number at every size, so the rate compares the cost per event);
- replay: `manage.py replay_events --projection eventstore.event_stats` over the
  whole log, in its own process (the command's own rate); `--no-replay` skips it.

Each measurement gives the wall rate and the CPU microseconds per event of the
measuring process and of the Postgres backends that served it (bench/cpu_time.py;
Postgres must run on this machine), with the 1-minute load average: on a shared
machine the CPU per event is the figure that says whether the cost stays flat.
Then `shape`: the levels of the key table's B-trees, how many partitions the
follow's plan reads, the sizes. Every measurement is appended to
`bench/results/growth.jsonl` as it is taken; the table is printed at the end.

The log is filled between sizes by SQL (`fill`): chunks of events generated
by the server (`generate_series`) and inserted with their keys, one
transaction per chunk, numbered as the append would number them. Only the
measurements above go through the platform's own code. Partitions are
production's width (`GROWTH_PARTITION_TRANSACTIONS`), and the fill starts a
new one every `EVENTS_PER_PARTITION` events by raising the position base (as a
cluster's other databases' transaction ids would), so 10 million events lie
in about 1,500 partitions, as a long-lived log's would, and no partition is
made during a measured append. (Narrower partitions, `--partition-transactions
512`, make the appending connection create one every 512 appends: 186 ms a
call at 10M, charged to the appends, which read as a 1.2 x growth that is
the bench's, docs/benchmarks.md.) Partitions are kept ahead by the bench itself
(every fill chunk, every 100 appends), as beat does in production. Nothing
here is a test: no time is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from . import cpu_time

FILL_CHUNK = 2000
GROWTH_PARTITION_TRANSACTIONS = 1 << 20  # production's default width
GROWTH_PARTITIONS_AHEAD = 4
EVENTS_PER_PARTITION = 6600

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
RESULTS = Path(__file__).resolve().parent / "results" / "growth.jsonl"


def _environment(
    width: int = GROWTH_PARTITION_TRANSACTIONS, ahead: int = GROWTH_PARTITIONS_AHEAD
) -> dict[str, str]:
    os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/platform_growth_bench")
    os.environ["EVENTSTORE_PARTITION_TRANSACTIONS"] = str(width)
    os.environ["EVENTSTORE_PARTITIONS_AHEAD"] = str(ahead)
    from .database import bench_environment

    env = bench_environment()
    env["EVENTSTORE_PARTITION_TRANSACTIONS"] = os.environ["EVENTSTORE_PARTITION_TRANSACTIONS"]
    env["EVENTSTORE_PARTITIONS_AHEAD"] = os.environ["EVENTSTORE_PARTITIONS_AHEAD"]
    return env


def log_size() -> int:
    """Events in the log, counted one partition per statement.

    One count(*) over the parent locks every partition and its indexes at once:
    with 1,527 partitions it ran out of the server's lock table (docs/benchmarks.md).
    """
    from django.db import connection

    from eventstore import partitions

    total = 0
    with connection.cursor() as cursor:
        for name, _lower, _upper in partitions.partitions():
            cursor.execute(f'SELECT count(*) FROM "{name}"')
            total += cursor.fetchone()[0]
    return total


def _skip_to_next_partition() -> None:
    """Raise the position base so the next transaction's positions start the next partition.

    On the shared server the other databases' transaction ids spread the log over
    many partitions; a private server takes none, so the fill stands in for them.
    """
    from django.db import connection

    from eventstore import partitions
    from eventstore.store.statements import POSITION_SHIFT

    span = partitions.span()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT base FROM eventstore_position_base)"
            f" + (pg_snapshot_xmax(pg_current_snapshot())::text::bigint << {POSITION_SHIFT})"
        )
        upcoming = cursor.fetchone()[0]
        cursor.execute("UPDATE eventstore_position_base SET base = base + %s", [span - upcoming % span])


def fill(have: int, to: int, chunk_size: int = FILL_CHUNK, per_partition: int | None = None) -> float:
    """Insert events until the log, holding `have`, holds `to`; events per second of the fill.

    `per_partition`: the fill moves on to a new partition after that many events
    (chunks shrink to fit), so the log holds about `to / per_partition` partitions.
    """
    from django.db import connection, transaction

    from eventstore import partitions

    started = time.perf_counter()
    added, filled = 0, set()
    in_partition = 0
    while have + added < to:
        chunk = min(chunk_size, to - have - added)
        if per_partition:
            if in_partition >= per_partition:
                _skip_to_next_partition()
                in_partition = 0
            chunk = min(chunk, per_partition - in_partition)
            in_partition += chunk
        partitions.ensure_ahead()  # xids are the cluster's: other databases take them too
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_FILL_SQL, [chunk])
            cursor.execute(
                "SELECT (SELECT base FROM eventstore_position_base) + (pg_current_xact_id()::text::bigint << 20)"
            )
            # A literal position: planned against the one partition that holds it.
            first = cursor.fetchone()[0] + 1
            cursor.execute(f"SELECT tableoid::regclass::text FROM eventstore_event WHERE position = {first}")
            filled.add(cursor.fetchone()[0])
        added += chunk
    # What autovacuum would do: the partitions that took rows and the key table. Not the parent:
    # autovacuum never analyzes a partitioned table, and ANALYZE of it samples every partition
    # again (75 s at 3 million events).
    with connection.cursor() as cursor:
        for table in [*sorted(filled), "eventstore_event_key"]:
            cursor.execute(f'ANALYZE "{table}"')
    return added / max(time.perf_counter() - started, 1e-9)


class Measured:
    """One measurement: events, wall seconds, CPU seconds of the client and of the Postgres side."""

    def __init__(
        self,
        what: str,
        events: int,
        wall: float,
        client_cpu: float,
        server_cpu: float,
        load: float,
        blocks: tuple[int, int],
    ):
        self.what, self.events, self.wall = what, events, wall
        self.client_cpu, self.server_cpu, self.load = client_cpu, server_cpu, load
        self.blocks_read, self.blocks_hit = blocks  # from outside / inside Postgres's shared buffers

    @property
    def rate(self) -> float:
        return self.events / max(self.wall, 1e-9)

    def micros(self, seconds: float) -> float:
        """CPU microseconds per event."""
        return seconds / max(self.events, 1) * 1e6

    def as_dict(self) -> dict:
        return {
            "what": self.what,
            "events": self.events,
            "wall_s": round(self.wall, 3),
            "rate": round(self.rate, 1),
            "client_cpu_us_per_event": round(self.micros(self.client_cpu), 1),
            "server_cpu_us_per_event": round(self.micros(self.server_cpu), 1),
            "load1": round(self.load, 2),
            "blocks_read_per_event": round(self.blocks_read / max(self.events, 1), 2),
            "blocks_hit_per_event": round(self.blocks_hit / max(self.events, 1), 2),
        }


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _blocks() -> tuple[int, int]:
    """Blocks this database read into shared buffers and found there (its backends' stats, flushed)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT blks_read, blks_hit FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()


def _since(before: tuple[int, int]) -> tuple[int, int]:
    after = _blocks()
    return after[0] - before[0], after[1] - before[1]


def _timed(what: str, work) -> Measured:
    """Run `work()` (it returns the number of events) on this process's connection, timing wall and CPU."""
    pid = _backend_pid()
    load, blocks = os.getloadavg()[0], _blocks()
    server, client, started = cpu_time.backend_seconds(pid), cpu_time.own_seconds(), time.perf_counter()
    events = work()
    wall = time.perf_counter() - started
    client, server = cpu_time.own_seconds() - client, cpu_time.backend_seconds(pid) - server
    return Measured(what, events, wall, client, server, load, _since(blocks))


def append(seconds: float, counter: list[int]) -> Measured:
    """`publish()`, one event per transaction, each the first of its stream, for `seconds`."""
    from django.db import transaction

    from bench.benchapp.events import THING_RECORDED, thing_payload
    from eventstore import partitions
    from eventstore.bus import publish

    partitions.ensure_ahead()

    def work() -> int:
        done, deadline = 0, time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            n = counter[0]
            counter[0] += 1
            with transaction.atomic():
                publish(THING_RECORDED, stream_id=f"thing-growth-{os.getpid()}-{n}", data=thing_payload(n))
            done += 1
            if done % 100 == 0:  # beat's job in production: partitions stay ahead of the appends
                partitions.ensure_ahead()
        return done

    return _timed("append", work)


def follow_newest(window: int) -> Measured:
    """`follow()` over the newest `window` events: the same amount at every size."""

    from eventstore.reading import follow

    after = max(_newest_position_but(window) - 1, 0)
    return _timed("follow", lambda: sum(len(batch) for batch in follow(after=after)))


def _newest_position_but(count: int) -> int:
    """The position of the `count`-th newest event (0 if the log holds fewer).

    Read a window of partitions at a time from the newest, each statement planned
    over its window: one statement over the whole log, planned over every
    partition, runs the server's lock table out with thousands of them.
    """
    from django.db import connection

    from eventstore import partitions

    remaining = count
    windows = partitions.position_windows(partitions.LOWEST_POSITION, partitions.HIGHEST_POSITION)
    with connection.cursor() as cursor:
        for after, through in reversed(windows):
            cursor.execute(
                "SELECT position FROM eventstore_event WHERE position > %s AND position <= %s"
                " ORDER BY position DESC LIMIT %s",
                [after, through, remaining],
            )
            rows = cursor.fetchall()
            if len(rows) == remaining:
                return rows[-1][0]
            remaining -= len(rows)
    return 0


_CLOSING_LINE = re.compile(r"Replayed (\d+) events into \d+ projection\(s\) in ([\d.]+) s")
_REPLAY_APPLICATION = "growth-replay"


def replay(env: dict[str, str]) -> Measured:
    """`manage.py replay_events --projection eventstore.event_stats` over the whole log, in its own process.

    Wall time is the command's own (its closing line); CPU is the child process's
    and its backends' (found by application name), setup included.
    """
    from .database import ROOT, connect_params

    load, children, blocks = os.getloadavg()[0], cpu_time.children_seconds(), _blocks()
    with cpu_time.BackendsByName(connect_params(), _REPLAY_APPLICATION) as backends:
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
            env={**os.environ, **env, "PGAPPNAME": _REPLAY_APPLICATION},
            check=True,
            capture_output=True,
            text=True,
        )
    match = _CLOSING_LINE.search(done.stdout)
    if match is None:
        raise RuntimeError(f"replay_events printed no closing line:\n{done.stdout}\n{done.stderr}")
    return Measured(
        "replay",
        int(match[1]),
        float(match[2]),
        cpu_time.children_seconds() - children,
        backends.seconds,
        load,
        _since(blocks),
    )


def partition_count() -> int:
    from eventstore import partitions

    return sum(1 for _name, lower, upper in partitions.partitions() if lower is None or lower < upper)


def populated_partitions() -> int:
    from django.db import connection

    # From the statistics the fill's ANALYZE left: a count(*) would read the whole log at every size.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'eventstore_event'::regclass AND c.reltuples > 0"
        )
        return cursor.fetchone()[0]


_KEY_INDEXES = ("eventstore_event_key_pkey", "eventstore_event_key_stream_version")


def shape(window: int) -> dict:
    """What could make an event cost more as the log grows: index depths, sizes, partitions in the plans."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")  # bt_metap: a B-tree's levels
        depth = {}
        for index in _KEY_INDEXES:
            cursor.execute("SELECT level + 1 FROM bt_metap(%s)", [index])
            depth[index] = cursor.fetchone()[0]
        after = _newest_position_but(window)
        # The follow's statement with its bounds as values (what a one-shot cursor is planned with).
        cursor.execute(
            "EXPLAIN (FORMAT JSON) SELECT position FROM eventstore_event WHERE position > %s "
            "AND position < 9223372036854775807 ORDER BY position",
            [after],
        )
        plan = json.dumps(cursor.fetchone()[0])
        cursor.execute(
            "SELECT pg_size_pretty(sum(pg_total_relation_size(relid))) FROM pg_partition_tree('eventstore_event')"
        )
        log_size_pretty = cursor.fetchone()[0]
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('eventstore_event_key'))")
        keys_size_pretty = cursor.fetchone()[0]
    return {
        "key index levels": depth,
        "partitions in the follow plan": plan.count('"Relation Name"'),
        "log size": log_size_pretty,
        "key table size": keys_size_pretty,
    }


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--rounds", type=int, default=3, help="append and follow, taking turns, at each size")
    parser.add_argument("--append-seconds", type=float, default=10.0)
    parser.add_argument("--window", type=int, default=100_000)
    parser.add_argument("--no-replay", action="store_true", help="append and follow only")
    parser.add_argument(
        "--keep", action="store_true", help="grow the existing database instead of a fresh one"
    )
    parser.add_argument("--out", default=str(RESULTS), help="JSON lines, one per measurement (appended)")
    parser.add_argument(
        "--partition-transactions",
        type=int,
        default=GROWTH_PARTITION_TRANSACTIONS,
        help="partition width in transactions (production's 1048576 unless given)",
    )
    parser.add_argument("--partitions-ahead", type=int, default=GROWTH_PARTITIONS_AHEAD)
    parser.add_argument("--fill-chunk", type=int, default=FILL_CHUNK, help="events per fill transaction")
    parser.add_argument(
        "--events-per-partition",
        type=int,
        default=EVENTS_PER_PARTITION,
        help="fill: start a new partition after this many events (stands in for other databases' xids)",
    )
    parser.add_argument(
        "--fill-only", action="store_true", help="grow the log to the largest size, measure nothing"
    )
    args = parser.parse_args()
    if not 0 < args.fill_chunk < (1 << 20):
        parser.error("--fill-chunk must be below 2^20 (one transaction's positions)")
    env = _environment(args.partition_transactions, args.partitions_ahead)
    os.environ.update(env)
    from . import database

    if not args.keep:
        print("Setting up a fresh growth database ...", flush=True)
        database.recreate()
    import django

    django.setup()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    database_name = database.connect_params()["dbname"]
    counter = [0]
    rows = []
    events = log_size()  # once: then counted as the fill and the appends add to it
    for size in sorted(args.sizes):
        fill_started = time.perf_counter()
        filled = fill(events, size, args.fill_chunk, args.events_per_partition)
        events = max(events, size)
        print(
            f"{database_name}: filled to {events:,} at {filled:,.0f} events/s "
            f"({time.perf_counter() - fill_started:,.0f} s)",
            flush=True,
        )
        if args.fill_only:
            continue
        measured: list[Measured] = []
        for round_number in range(args.rounds):
            steps = [lambda: append(args.append_seconds, counter), lambda: follow_newest(args.window)]
            for step in steps if round_number % 2 == 0 else steps[::-1]:
                measured.append(step())
                print(f"  {json.dumps(measured[-1].as_dict())}", flush=True)
        if not args.no_replay:
            measured.append(replay(env))
            print(f"  {json.dumps(measured[-1].as_dict())}", flush=True)
        described = shape(args.window)
        described.update(
            {"partitions with events / attached": f"{populated_partitions()} / {partition_count()}"}
        )
        print(f"  {json.dumps(described)}", flush=True)
        events += sum(m.events for m in measured if m.what == "append")
        with out.open("a") as file:
            for m in measured:
                file.write(json.dumps({"database": database_name, "log": events, **m.as_dict()}) + "\n")
            file.write(json.dumps({"database": database_name, "log": events, "shape": described}) + "\n")
        rows.append((events, described, measured))
    print(
        "\n| events in the log | append (events/s; client + server CPU µs/event) | "
        "follow newest window (events/s; CPU µs/event) | replay (events/s; CPU µs/event) | load (1 min) |"
    )
    print("|---:|---:|---:|---:|---|")
    for events, _described, measured in rows:
        cells = []
        for what in ("append", "follow", "replay"):
            ms = [m for m in measured if m.what == what]
            if not ms:
                cells.append("-")
                continue
            cells.append(
                f"{_median([m.rate for m in ms]):,.0f}; "
                f"{_median([m.micros(m.client_cpu) for m in ms]):,.0f} + "
                f"{_median([m.micros(m.server_cpu) for m in ms]):,.0f}"
            )
        loads = [m.load for m in measured]
        print(f"| {events:,} | {' | '.join(cells)} | {min(loads):.1f}–{max(loads):.1f} |", flush=True)


if __name__ == "__main__":
    main()
