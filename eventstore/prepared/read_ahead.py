"""A server-side cursor whose next FETCH runs on the server while the client decodes the last one.

A plain cursor takes turns with Postgres: the client waits while the server
produces a batch of rows, then the server waits while the client turns them
into events. Here the FETCH of batch n + 1 is sent before batch n is decoded,
so on a machine with two cores the two overlap; the rows of batch n + 1 are
read back before batch n goes to the caller, so between batches nothing is in
flight and the caller may use the connection as it likes. This serves the
figure "follow() whole log" of issue 24 (docs/benchmarks.md, "Append and
follow speed (issue 24)").

`decode` runs while a FETCH is in flight: it must not use the connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import generators, pq
from psycopg.adapt import Transformer

T = TypeVar("T")
_BINARY = pq.Format.BINARY


def read_ahead(
    name: str,
    sql: str,
    params: Sequence,
    *,
    batch_size: int,
    decode: Callable[[list[tuple]], T],
    paused: Callable[[], AbstractContextManager] = nullcontext,
) -> Iterator[T]:
    """Declare cursor `name` for `sql`; yield `decode(rows)` for each batch of rows (read in binary).

    Must run inside a transaction, and be closed (`contextlib.closing`) before
    it ends: closing the cursor is a statement. Rows are loaded and decoded
    inside `paused()` (e.g. with the garbage collector paused).
    """
    db = connections[DEFAULT_DB_ALIAS]
    with db.cursor() as cursor:  # Django's: its error wrapping, its parameter binding
        cursor.execute(f"DECLARE {name} NO SCROLL CURSOR FOR {sql}", params)
    conn = db.connection
    fetch = f"FETCH FORWARD {int(batch_size)} FROM {name}".encode()
    loader = Transformer(conn)  # the connection's adapters, as its own cursors load with
    in_flight = False
    try:
        _send(db, conn, fetch)
        result = _receive(db, conn)
        while result.ntuples:
            more = result.ntuples == batch_size  # a short batch was the last: no FETCH would find more
            if more:
                _send(db, conn, fetch)
                in_flight = True
            with paused():
                loader.set_pgresult(result)
                # A list of one, emptied by the yield: while the caller holds the batch, this
                # suspended frame keeps no reference to it, so the batch lives exactly as long
                # as the caller keeps it (see eventstore.reading.collector_paused).
                decoded = [decode(loader.load_rows(0, result.ntuples, tuple))]
            if not more:
                yield decoded.pop()
                return
            in_flight = False  # read back now, whatever it holds (an error is raised from here)
            result = _receive(db, conn)
            yield decoded.pop()
    finally:
        if in_flight:  # decode raised: read the answer, or the connection stays busy
            _receive(db, conn, discard=True)
        if conn.info.transaction_status == pq.TransactionStatus.INTRANS:
            with db.cursor() as cursor:
                cursor.execute(f"CLOSE {name}")


def _send(db, conn: psycopg.Connection, query: bytes) -> None:
    with db.wrap_database_errors, conn.lock:
        conn.pgconn.send_query_params(query, None, result_format=_BINARY)
        conn.wait(generators.send(conn.pgconn))


def _receive(db, conn: psycopg.Connection, *, discard: bool = False) -> pq.abc.PGresult | None:
    with db.wrap_database_errors:
        with conn.lock:
            results = conn.wait(generators.fetch_many(conn.pgconn))
        if discard:
            return None
        (result,) = results
        if result.status != pq.ExecStatus.TUPLES_OK:
            raise psycopg.errors.error_from_result(result, encoding=conn.info.encoding)
        return result
