"""The event store's hot statements, sent by itself on Django's connection (so in its transaction).

Two costs of going through a Django cursor are avoided here:

- Django binds parameters on the client: every call renders the statement
  again in Python and Postgres plans it again. Here parameters are bound on
  the server and each statement is prepared once per connection (the append,
  the relay's reads and checkpoint writes, a consumer's checkpoint moves).
- psycopg sends a transaction's BEGIN on its own and waits for the answer
  before sending the first statement. For a command whose first statement is
  the append (creating a post, a scan, a login) that wait was a quarter of the
  transaction's CPU, client and server together (docs/benchmarks.md). Here a
  statement that begins its transaction goes out in one libpq pipeline with
  the BEGIN (and, the first time on a connection, its PREPARE): one round trip
  whatever the case. Npgsql, for one, does the same with a pending BEGIN.

Everything else is as with any Django query: the caller's transaction, with
the connection's isolation level and read-only settings; parameters and
results adapted by psycopg with the connection's adapters (timestamps load as
the aware UTC values Django reads); errors raised as Django's
(`IntegrityError`, and `OperationalError` for a lost connection, which Django
knows to drop); a transaction Django knows is broken is refused before
anything is sent. Placeholders: see `session`.

psycopg's own prepared statements stay unused: it deallocates all of a
session's statements after any ROLLBACK once it has prepared one itself,
which would take these with them. This uses psycopg's libpq layer
(`psycopg.pq`), its `Transformer` and the wait generators its cursors are
built from, against the pinned psycopg version the tests run.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections

from .pipeline import Pipeline
from .read_ahead import read_ahead
from .session import Params, session_of


class _ConnectionPipeline:
    """A pipeline on Django's connection: `send` a statement, then `finish` for its result.

    Database errors come out as Django's. A class rather than a generator:
    every append and checkpoint move opens one, and a generator-based context
    manager costs a few microseconds a use.
    """

    __slots__ = ("_errors", "_line")

    def __enter__(self) -> Pipeline:
        db = connections[DEFAULT_DB_ALIAS]  # the wrapper once: each `connection.x` looks it up again
        self._errors = db.wrap_database_errors
        with self._errors:
            db.validate_no_broken_transaction()
            self._line = Pipeline(session_of(db))
        return self._line

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        with self._errors:
            self._line.close()
        self._errors.__exit__(exc_type, exc_value, traceback)  # raises Django's error for a database error


def _run_one(
    sql: bytes, params: Params, first_in_transaction: bytes | None, prepare: bool | None, rows: bool
):
    """One statement in a pipeline of its own: its rows, or how many rows it changed."""
    with _ConnectionPipeline() as one:
        one.send(sql, params, first_in_transaction=first_in_transaction, prepare=prepare)
        (result,) = one.finish()
        if rows:
            return one.rows(result)
        return result.command_tuples if result.command_tuples is not None else -1


def fetchall(
    sql: bytes,
    params: Params = None,
    *,
    first_in_transaction: bytes | None = None,
    prepare: bool | None = True,
) -> list[tuple]:
    """Run `sql` prepared (unnamed, planned with its parameters each time, when `prepare=False`;
    prepared after a few runs, when None, as `execute` says); return its rows.

    `first_in_transaction` is a variant of the statement to run instead when this statement
    begins its transaction (nothing else has run in it yet).
    """
    return _run_one(sql, params, first_in_transaction, prepare, rows=True)


def fetchone(sql: bytes, params: Params = None) -> tuple | None:
    rows = fetchall(sql, params)
    return rows[0] if rows else None


def fetch_each(statements: list[tuple[bytes, Params]], *, prepare: bool = True) -> list[list[tuple]]:
    """Run several statements in one round trip (one pipeline); return each one's rows, in order."""
    with _ConnectionPipeline() as line:
        for sql, params in statements:
            line.send(sql, params, prepare=prepare)
        return [line.rows(result) for result in line.finish()]


def execute(sql: bytes | str, params: Params = None, *, prepare: bool | None = True) -> int:
    """Run a statement that returns no rows; return how many rows it changed.

    `prepare=None` prepares it once it has run a few times on the connection
    (psycopg's `prepare_threshold`), for statements whose text varies (the
    batch handlers' inserts).
    """
    return _run_one(sql.encode() if isinstance(sql, str) else sql, params, None, prepare, rows=False)


__all__ = ["execute", "fetch_each", "fetchall", "fetchone", "read_ahead"]
