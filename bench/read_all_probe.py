"""read_all far behind the head and near it: one statement over every partition above `after`, or windows.

    BENCH_DATABASE_URL=postgres://.../a_grown_bench .venv/bin/python -m bench.read_all_probe [--rounds 6] [--calls 10]

On a log grown by bench.growth (many partitions), one process reads the same
pages two ways, taking turns round by round: "one statement" is read_all as
it was before the windows (bounded by `after` and the horizon alone, planned
over every partition in between), "windows" is `eventstore.reading.read_all`
now. Cases: a page of 1,000 from `after=0` (the API's first page, a
subscriber's backfill from the start); a page of a type no event has, from
`after=0` (a walk that finds nothing reads every window); a follower's page
near the head; and the admin's search for a correlation id no event has
(one statement over the whole log before, every window now). Per call: the statements that read the log, the most
partitions one of them plans over (EXPLAIN), this process's CPU and its
Postgres backend's (/proc), medians over the rounds. Nothing is changed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time

from . import database

_OLD_READ_ALL = (
    "SELECT {columns} FROM eventstore_event WHERE position > %s AND position < %s{filters}"
    " ORDER BY position LIMIT %s"
)
_PLANNED = re.compile(r'"Relation Name": "(eventstore_event_(?!key)[^"]+)"')
_READS_LOG = re.compile(r"\bFROM \"?eventstore_event\b")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--calls", type=int, default=10, help="calls of each way per round")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    os.environ.update(database.bench_environment())
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from eventstore import reading
    from eventstore.admin_bounds import COUNT_LIMIT
    from eventstore.selectors import search_positions

    from .cpu import process_seconds

    def one_statement(*, after: int, limit: int = 1000, types=None):
        """read_all before the windows: `position > after AND position < horizon` in one statement."""
        filters, params = "", [after, reading.horizon()]
        if types:
            filters, params = " AND type = %s", [*params, types[0]]
        sql = _OLD_READ_ALL.format(columns=reading._COLUMNS, filters=filters)
        return reading._query(sql, [*params, limit], primary=True)

    def windows(*, after: int, limit: int = 1000, types=None):
        return reading.read_all(after=after, limit=limit, types=types)

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'eventstore_event'::regclass")
        attached = cursor.fetchone()[0]
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT position FROM eventstore_event_key ORDER BY position DESC OFFSET 100 LIMIT 1"
        )  # the key table: a read that plans over no partition
        near = cursor.fetchone()[0]

    def search_one_statement(*, term: str):
        """The admin's correlation search before the windows: one statement over the whole log."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT position FROM eventstore_event WHERE correlation_id = %s ORDER BY position DESC LIMIT %s",
                [term, COUNT_LIMIT],
            )
            return cursor.fetchall()

    def search_windows(*, term: str):
        return search_positions(term, limit=COUNT_LIMIT)

    read_all_ways = {"one statement": one_statement, "windows": windows}
    # (read, its arguments, {way: function})
    cases = [
        ("read_all: page of 1,000 from after=0", {"after": 0}, read_all_ways),
        (
            "read_all: a type no event has, from after=0",
            {"after": 0, "types": ["bench:no_such_type"]},
            read_all_ways,
        ),
        ("read_all: follower near the head (100 events behind)", {"after": near}, read_all_ways),
        (
            "admin search: a correlation id no event has",
            {"term": "00000000-0000-4000-8000-000000000000"},
            {"one statement": search_one_statement, "windows": search_windows},
        ),
    ]
    for _name, case, ways in cases:  # the partition list, the process's caches: not a figure
        for read in ways.values():
            read(**case)

    def planned(read, case) -> tuple[int, int]:
        """(statements reading the log, the most partitions one of them is planned over)."""
        with CaptureQueriesContext(connection) as captured:
            read(**case)
        reads = [q["sql"] for q in captured.captured_queries if _READS_LOG.search(q["sql"])]
        most = 0
        with connection.cursor() as cursor:
            for sql in reads:
                cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
                most = max(most, len(set(_PLANNED.findall(json.dumps(cursor.fetchone()[0])))))
        return len(reads), most

    samples = {
        (name, way): {"client": [], "server": [], "wall": []} for name, _c, ways in cases for way in ways
    }
    for round_number in range(args.rounds):
        for name, case, ways in cases:
            order = list(ways.items()) if round_number % 2 == 0 else list(reversed(ways.items()))
            for way, read in order:
                client, server, wall = time.process_time(), process_seconds(backend), time.perf_counter()
                for _ in range(args.calls):
                    read(**case)
                figures = samples[(name, way)]
                figures["client"].append((time.process_time() - client) / args.calls)
                figures["server"].append((process_seconds(backend) - server) / args.calls)
                figures["wall"].append((time.perf_counter() - wall) / args.calls)
    print(json.dumps({"partitions attached": attached, "load average": os.getloadavg()}))
    print("| read | way | statements | most partitions planned | client CPU ms | server CPU ms | wall ms |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, case, ways in cases:
        for way, read in ways.items():
            figures = samples[(name, way)]
            medians = [statistics.median(figures[k]) * 1000 for k in ("client", "server", "wall")]
            statements, most = planned(read, case)
            print(
                f"| {name} | {way} | {statements} | {most} | {medians[0]:.2f} | {medians[1]:.2f}"
                f" | {medians[2]:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
