"""Where one append's cost goes: CPU on each side, WAL and its full-page images (issue 24.1).

`python -m bench.append_probe [--rounds 4] [--transactions 1500]` runs raw psycopg's
insert, the event store's statement from a bare psycopg loop, and `publish()`,
taking turns, one event per transaction on a new stream (`--kinds raw_batch,publish_many`:
100 per transaction, as figure 24.2), against the bench
database (BENCH_DATABASE_URL; the raw table must exist: a `python -m bench`
run makes it). For each it prints per event: the client's CPU
(`getrusage`), its Postgres backend's CPU (/proc), the WAL the backend wrote
and its full-page images (`pg_stat_wal` differences, so run it on a server of
its own: another session's writes count there too). `--checkpoint` runs a
CHECKPOINT before each run: the page images' worst case. Medians of the rounds.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
import uuid

import orjson
import psycopg

from . import database
from .cpu import process_seconds

_WAL = "SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal"


def _client_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _raw(conn: psycopg.Connection, n: int) -> None:
    from .raw import INSERT, _row

    conn.execute(INSERT, _row(n), prepare=True)
    conn.commit()


def _statement(conn: psycopg.Connection, n: int) -> None:
    from eventstore.store.statements import APPEND_NEW_STREAM

    from .benchapp.events import thing_payload
    from .raw import METADATA

    correlation = uuid.uuid4()
    params = {
        "stream_id": f"thing-{uuid.uuid4()}",
        "id": uuid.uuid4(),
        "type": "bench:thing_recorded",
        "schema_version": 1,
        "data": orjson.dumps(thing_payload(n)).decode(),
        "metadata": METADATA,
        "source": "bench",
        "correlation_id": correlation,
        "causation_id": correlation,
    }
    conn.execute(APPEND_NEW_STREAM[1], params, prepare=True).fetchall()
    conn.commit()


def _publish(_conn, n: int) -> None:
    from django.db import transaction

    from .platform_writes import _publish as publish_one

    with transaction.atomic():
        publish_one(n)


def _raw_batch(conn: psycopg.Connection, n: int) -> None:
    from .raw import BATCH, INSERT, _row

    with conn.cursor() as cursor:
        cursor.executemany(INSERT, [_row(n + i) for i in range(BATCH)])
    conn.commit()


def _publish_many(_conn, n: int) -> None:
    from django.db import transaction

    from eventstore.bus import publish_many
    from eventstore.envelope import ExpectedVersion

    from .benchapp.events import THING_RECORDED, thing_payload
    from .raw import BATCH, REQUEST_METADATA

    with transaction.atomic():
        publish_many(
            f"thing-{uuid.uuid4()}",
            [(THING_RECORDED, thing_payload(n + i)) for i in range(BATCH)],
            expected_version=ExpectedVersion.NO_STREAM,
            metadata=REQUEST_METADATA,
        )


_KINDS = {
    "raw": _raw,
    "statement": _statement,
    "publish": _publish,
    "raw_batch": _raw_batch,
    "publish_many": _publish_many,
}
_EVENTS_PER_TRANSACTION = {"raw_batch": 100, "publish_many": 100}


def _flush_wal_counters(kind: str, conn: psycopg.Connection) -> None:
    """Make the backend publish its WAL counters: it does so at most once a second, at a transaction's end."""
    time.sleep(1.1)
    if kind in ("publish", "publish_many"):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    else:
        conn.execute("SELECT 1")
        conn.commit()


def _platform_connection():
    from django.db import connection, transaction

    with transaction.atomic():  # connect, and warm the statement up
        from .platform_writes import _publish as publish_one

        publish_one(0)
    return connection.connection


def measure(
    kind: str, conn, watcher: psycopg.Connection, transactions: int, *, checkpoint: bool
) -> dict[str, float]:
    run = _KINDS[kind]
    backend = (conn if kind not in ("publish", "publish_many") else _platform_connection()).info.backend_pid
    run(conn, 0)
    _flush_wal_counters(kind, conn)
    if checkpoint:
        # Every page's first change after a checkpoint writes the whole page to the WAL.
        watcher.execute("CHECKPOINT")
    wal_before = watcher.execute(_WAL).fetchone()
    server_before = process_seconds(backend)
    client_before = _client_seconds()
    started = time.perf_counter()
    for n in range(transactions):
        run(conn, n)
    wall = time.perf_counter() - started
    client = _client_seconds() - client_before
    server = process_seconds(backend) - server_before
    _flush_wal_counters(kind, conn)
    records, fpi, wal_bytes = (
        float(after - before)
        for after, before in zip(watcher.execute(_WAL).fetchone(), wal_before, strict=True)
    )
    events = transactions * _EVENTS_PER_TRANSACTION.get(kind, 1)
    return {
        "client_us": client * 1e6 / events,
        "server_us": server * 1e6 / events,
        "wall_us": wall * 1e6 / events,
        "wal_records": records / events,
        "wal_fpi": fpi / events,
        "wal_bytes": wal_bytes / events,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.append_probe", description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--transactions", type=int, default=1500)
    parser.add_argument("--kinds", default="raw,statement,publish")
    parser.add_argument(
        "--checkpoint", action="store_true", help="CHECKPOINT before each run: the page images' worst case"
    )
    args = parser.parse_args()
    os.environ.update(database.bench_environment())
    import django

    django.setup()
    kinds = args.kinds.split(",")
    results: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    with (
        psycopg.connect(**database.connect_params()) as conn,
        psycopg.connect(**database.connect_params(), autocommit=True) as watcher,
    ):
        for _ in range(args.rounds):
            for kind in kinds:
                results[kind].append(
                    measure(kind, conn, watcher, args.transactions, checkpoint=args.checkpoint)
                )
    columns = ["client_us", "server_us", "wall_us", "wal_records", "wal_fpi", "wal_bytes"]
    print(f"{'per event (medians)':<12}" + "".join(f"{c:>13}" for c in columns))
    for kind, runs in results.items():
        print(f"{kind:<12}" + "".join(f"{statistics.median(r[c] for r in runs):>13.1f}" for c in columns))


if __name__ == "__main__":
    main()
