"""Where one append's cost goes: CPU on each side, WAL and its full-page images (issue 24.1).

`python -m bench.append_probe [--rounds 4] [--transactions 1500]` runs raw psycopg's
insert, the event store's statement from a bare psycopg loop, and `publish()`,
taking turns, one event per transaction on a new stream, against the bench
database (BENCH_DATABASE_URL; the raw table must exist: a `python -m bench`
run makes it). For each it prints per transaction: the client's CPU
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


def _platform_connection():
    from django.db import connection, transaction

    with transaction.atomic():  # connect, and warm the statement up
        from .platform_writes import _publish as publish_one

        publish_one(0)
    return connection.connection


def measure(
    kind: str, conn, watcher: psycopg.Connection, transactions: int, *, checkpoint: bool
) -> dict[str, float]:
    run = {"raw": _raw, "statement": _statement, "publish": _publish}[kind]
    backend = (conn if kind != "publish" else _platform_connection()).info.backend_pid
    run(conn, 0)
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
    records, fpi, wal_bytes = (
        float(after - before)
        for after, before in zip(watcher.execute(_WAL).fetchone(), wal_before, strict=True)
    )
    per = 1e6 / transactions
    return {
        "client_us": client * per,
        "server_us": server * per,
        "wall_us": wall * per,
        "wal_records": records / transactions,
        "wal_fpi": fpi / transactions,
        "wal_bytes": wal_bytes / transactions,
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
    print(f"{'per transaction (medians)':<12}" + "".join(f"{c:>13}" for c in columns))
    for kind, runs in results.items():
        print(f"{kind:<12}" + "".join(f"{statistics.median(r[c] for r in runs):>13.1f}" for c in columns))


if __name__ == "__main__":
    main()
