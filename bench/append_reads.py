"""Which pages an append reads, relation by relation (issue 22: the append's cost as the log grows).

    python -m bench.append_reads --appends 2000 --rounds 3 --variants uuid4:counter uuid7:counter

Runs `publish()` as the growth bench appends (one event per transaction, each
the first of its stream) against the bench database (`BENCH_DATABASE_URL`),
and prints, per append, the blocks each relation read into shared buffers
(from the OS) and found there: the key table, its two unique indexes, the log's
partitions and their indexes (summed per parent index), from
`pg_statio_user_tables` / `pg_statio_user_indexes` differences; and the append
statement's own counts and time from `pg_stat_statements` where the server
loads it; the WAL written (full-page images and bytes, `pg_stat_wal`: the
cluster's) and the CPU of this process and of its backend. Run it on a server
of its own with nothing else writing: the buffers and the WAL are the cluster's.
`--checkpoint` starts every run with a CHECKPOINT, so that each pays the full
page images of the pages it is first to change.

A variant is `EVENT_IDS:STREAMS`. Event ids: `uuid4` (random, as the platform
made them before issue 22's fix, and as a client may still supply them) or
`uuid7` (`eventstore.ids.new_id()`); both are supplied to `publish(event_id=)`,
so the variants run the same code. Streams: `counter` (`thing-growth-<pid>-<n>`,
the growth bench's names), or `fill-<id>` with a `uuid4` or `uuid7` id: among
the growth fill's streams (`fill-<uuid4>`), as a new post's stream `post-<id>`
lands among the posts'. Variants take turns, round by round.
Nothing here is a test: no time is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid

from . import cpu_time
from .growth import GROWTH_PARTITION_TRANSACTIONS, _environment

_VARIANT_PARTS = ({"uuid4", "uuid7"}, {"counter", "uuid4", "uuid7"})

# Block counts per relation; a partition (or a partition's index) counts under its parent.
_RELATION_BLOCKS = """
SELECT coalesce(parent.relname, s.relname), 'table', sum(s.heap_blks_read), sum(s.heap_blks_hit)
FROM pg_statio_user_tables s
LEFT JOIN pg_inherits i ON i.inhrelid = s.relid LEFT JOIN pg_class parent ON parent.oid = i.inhparent
WHERE s.relname LIKE 'eventstore_event%%'
GROUP BY 1
UNION ALL
SELECT coalesce(parent.relname, s.indexrelname), 'index', sum(s.idx_blks_read), sum(s.idx_blks_hit)
FROM pg_statio_user_indexes s
LEFT JOIN pg_inherits i ON i.inhrelid = s.indexrelid LEFT JOIN pg_class parent ON parent.oid = i.inhparent
WHERE s.relname LIKE 'eventstore_event%%'
GROUP BY 1
"""
_STATEMENT_BLOCKS = """
SELECT coalesce(sum(calls), 0), coalesce(sum(shared_blks_read), 0), coalesce(sum(shared_blks_hit), 0),
       coalesce(sum(total_exec_time), 0), coalesce(sum(shared_blks_dirtied), 0)
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND query LIKE '%%INSERT INTO eventstore_event_key%%'
"""


def _variant(text: str) -> tuple[str, str]:
    parts = tuple(text.split(":"))
    if len(parts) != 2 or any(
        part not in allowed for part, allowed in zip(parts, _VARIANT_PARTS, strict=True)
    ):
        raise argparse.ArgumentTypeError(f"{text!r}: EVENT_IDS:STREAMS, uuid4|uuid7 : counter|uuid4|uuid7")
    return parts


def _statements_available(cursor) -> bool:
    cursor.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'")
    if cursor.fetchone()[0]:
        return True
    cursor.execute("SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries'")
    if "pg_stat_statements" not in cursor.fetchone()[0]:
        return False
    cursor.execute("CREATE EXTENSION pg_stat_statements")
    return True


def _snapshot(with_statements: bool) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(_RELATION_BLOCKS)
        blocks = {(name, kind): (int(read), int(hit)) for name, kind, read, hit in cursor.fetchall()}
        cursor.execute("SELECT buffers_backend FROM pg_stat_bgwriter")
        blocks["buffers written by backends"] = cursor.fetchone()[0]
        # The cluster's WAL: only this bench may write on the server meanwhile.
        cursor.execute("SELECT wal_fpi, wal_bytes FROM pg_stat_wal")
        blocks["WAL full-page images"], blocks["WAL bytes"] = (int(x) for x in cursor.fetchone())
        cursor.execute("SELECT pg_backend_pid()")
        blocks["server CPU µs"] = cpu_time.backend_seconds(cursor.fetchone()[0]) * 1e6
        blocks["client CPU µs"] = cpu_time.own_seconds() * 1e6
        if with_statements:
            cursor.execute(_STATEMENT_BLOCKS)
            blocks["statement"] = tuple(float(x) for x in cursor.fetchone())
    return blocks


def _new(kind: str) -> uuid.UUID:
    from eventstore.ids import new_id

    return uuid.uuid4() if kind == "uuid4" else new_id()


def run(
    variant: tuple[str, str], appends: int, counter: list[int], with_statements: bool, checkpoint: bool
) -> dict:
    from django.db import connection, transaction

    from bench.benchapp.events import THING_RECORDED, thing_payload
    from eventstore import partitions
    from eventstore.bus import publish

    event_ids, streams = variant
    partitions.ensure_ahead()
    if checkpoint:  # every run starts a checkpoint cycle: its pages' first changes write full images
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    before, started = _snapshot(with_statements), time.perf_counter()
    for done in range(1, appends + 1):
        n = counter[0]
        counter[0] += 1
        # `fill-<id>`: among the streams the growth fill made, as a new post's stream among the posts.
        stream = f"thing-growth-{os.getpid()}-{n}" if streams == "counter" else f"fill-{_new(streams)}"
        with transaction.atomic():
            publish(THING_RECORDED, stream_id=stream, data=thing_payload(n), event_id=_new(event_ids))
        if done % 100 == 0:  # beat's job in production: partitions stay ahead of the appends
            partitions.ensure_ahead()
    wall = time.perf_counter() - started
    after = _snapshot(with_statements)
    per_append = {}
    for key, value in after.items():
        if key == "statement":
            calls = max(value[0] - before[key][0], 1)
            per_append["statement: blocks read, hit, dirtied per call; ms per call"] = (
                round((value[1] - before[key][1]) / calls, 2),
                round((value[2] - before[key][2]) / calls, 1),
                round((value[4] - before[key][4]) / calls, 2),
                round((value[3] - before[key][3]) / calls, 3),
            )
        elif not isinstance(value, dict | tuple):
            per_append[key] = round((value - before[key]) / appends, 2)
        else:
            read, hit = (value[0] - before.get(key, (0, 0))[0]), (value[1] - before.get(key, (0, 0))[1])
            if read or hit:
                per_append[f"{key[1]} {key[0]}: read, hit"] = (
                    round(read / appends, 2),
                    round(hit / appends, 1),
                )
    return {"variant": ":".join(variant), "appends": appends, "wall_s": round(wall, 1), **per_append}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appends", type=int, default=2000, help="appends per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--variants", type=_variant, nargs="+", default=[("uuid4", "counter"), ("uuid7", "counter")]
    )
    parser.add_argument("--checkpoint", action="store_true", help="a CHECKPOINT before each run")
    parser.add_argument(
        "--partition-transactions",
        type=int,
        default=GROWTH_PARTITION_TRANSACTIONS,
        help="width of the partitions made ahead during the run (the growth bench's by default; "
        "production's 1048576 makes none in a run)",
    )
    args = parser.parse_args()
    os.environ.update(_environment(args.partition_transactions))
    import django

    django.setup()
    from django.db import connection

    with connection.cursor() as cursor:
        with_statements = _statements_available(cursor)
    counter, results = [0], {}
    for round_number in range(args.rounds):
        order = args.variants if round_number % 2 == 0 else args.variants[::-1]
        for variant in order:
            measured = run(variant, args.appends, counter, with_statements, args.checkpoint)
            results.setdefault(measured["variant"], []).append(measured)
            print(measured, flush=True)
    print("\nmedians per append:")
    for name, rounds in results.items():
        keys = [k for k in rounds[0] if k not in ("variant", "appends", "wall_s")]
        cells = []
        for key in keys:
            values = [r.get(key) for r in rounds if key in r]
            if isinstance(values[0], tuple):
                cells.append(
                    f"{key}: {tuple(statistics.median(v[i] for v in values) for i in range(len(values[0])))}"
                )
            else:
                cells.append(f"{key}: {statistics.median(values)}")
        print(f"{name}:\n  " + "\n  ".join(cells))


if __name__ == "__main__":
    main()
