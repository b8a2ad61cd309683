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
anything is sent. Placeholders are `%s` or `%(name)s`, `%b` for a binary
parameter, `%%` for a percent sign.

psycopg's own prepared statements stay unused: it deallocates all of a
session's statements after any ROLLBACK once it has prepared one itself,
which would take these with them. This uses psycopg's libpq layer
(`psycopg.pq`), its `Transformer` and the wait generators its cursors are
built from, against the pinned psycopg version the tests run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg import generators, pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.types.datetime import TimestamptzLoader

Params = Sequence | Mapping | None
ExecStatus = pq.ExecStatus
_IDLE = pq.TransactionStatus.IDLE


def fetchall(sql: bytes, params: Params = None, *, opening: bytes | None = None) -> list[tuple]:
    """Run `sql` prepared; return its rows.

    `opening` is a variant of the statement to run instead when this statement
    begins its transaction (nothing else has run in it yet).
    """
    result = _run(sql, params, prepare=True, opening=opening)
    return result[0].load_rows(0, result[1].ntuples, tuple)


def fetchone(sql: bytes, params: Params = None) -> tuple | None:
    rows = fetchall(sql, params)
    return rows[0] if rows else None


def execute(sql: bytes | str, params: Params = None, *, prepare: bool | None = True) -> int:
    """Run a statement that returns no rows; return how many rows it changed.

    `prepare=None` prepares it once it has run a few times on the connection
    (psycopg's `prepare_threshold`), for statements whose text varies (the
    batch handlers' inserts).
    """
    result = _run(sql.encode() if isinstance(sql, str) else sql, params, prepare=prepare)[1]
    return result.command_tuples if result.command_tuples is not None else -1


class _Session:
    """What is kept per connection: its adapters and the statements prepared on it."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        context = psycopg.Cursor(conn)  # only for its copy of the connection's adapters
        if settings.USE_TZ:
            # Django's own timestamptz loader (Python) sets the connection's zone,
            # UTC, which the session's TimeZone gives already: psycopg's loader,
            # in C, returns the same values at a tenth of the cost per row.
            context.adapters.register_loader("timestamptz", TimestamptzLoader)
        self.transformer = Transformer(context)
        self.prepared: dict[tuple[bytes, tuple[int, ...]], bytes] = {}
        self.runs: dict[tuple[bytes, tuple[int, ...]], int] = {}
        self.names = 0  # never reused: a name once given may still exist on the server


def _session(db: BaseDatabaseWrapper) -> _Session:
    db.ensure_connection()
    session = getattr(db, "_eventstore_session", None)
    if session is None or session.conn is not db.connection:  # a reconnect starts afresh
        session = db._eventstore_session = _Session(db.connection)
    return session


def _run(
    sql: bytes, params: Params, *, prepare: bool | None, opening: bytes | None = None
) -> tuple[Transformer, pq.abc.PGresult]:
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper once: each `connection.x` looks it up again
    with db.wrap_database_errors:
        db.validate_no_broken_transaction()
        session = _session(db)
        conn = session.conn
        with conn.lock:
            begins = conn.pgconn.transaction_status == _IDLE and not conn.autocommit
            if begins and opening is not None:
                sql = opening
            query, values, formats = _bind(sql, params)
            tx = session.transformer
            dumped = tx.dump_sequence(values, formats) if values else ()
            types = tuple(tx.types or ()) if values else ()
            name = _statement_name(session, conn, query, types, prepare)
            result = _exchange(
                conn, session, query, types, tx.formats if values else None, dumped, name, begins
            )
            tx.set_pgresult(result)
            return tx, result


def _statement_name(
    session: _Session, conn: psycopg.Connection, query: bytes, types: tuple, prepare: bool | None
) -> bytes | None:
    """The name it is (or is about to be) prepared under; None to run it unnamed."""
    key = (query, types)
    if name := session.prepared.get(key):
        return name
    threshold = conn.prepare_threshold
    if threshold is None or prepare is False:  # preparing is off (DB_PREPARE_THRESHOLD=0)
        return None
    if prepare is None:
        runs = session.runs[key] = session.runs.get(key, 0) + 1
        if runs <= threshold:
            return None
    session.names += 1
    return b"eventstore_%d" % session.names


def _exchange(conn, session, query, types, formats, dumped, name, begins) -> pq.abc.PGresult:
    """One round trip: [BEGIN,] [PREPARE,] the statement, Sync; the statement's result."""
    pgconn = conn.pgconn
    prepares = name is not None and (query, types) not in session.prepared
    pgconn.enter_pipeline_mode()
    try:
        if begins:
            pgconn.send_query_params(_begin_command(conn), None)
        if prepares:
            pgconn.send_prepare(name, query, param_types=types)
        if name is None:
            pgconn.send_query_params(query, dumped, param_types=types, param_formats=formats)
        else:
            pgconn.send_query_prepared(name, dumped, param_formats=formats)
        pgconn.pipeline_sync()
        # Separate waits on psycopg's C generators: chaining them in one Python
        # generator, for a single wait, measured a third slower.
        conn.wait(generators.send(pgconn))
        answers = [conn.wait(generators.fetch_many(pgconn)) for _ in range(begins + prepares + 1)]
        conn.wait(generators.fetch(pgconn))  # the Sync's own result
    finally:
        try:
            pgconn.exit_pipeline_mode()
        except psycopg.OperationalError:
            # Results left unread (the connection was lost, or the wait was
            # interrupted): psycopg could not use this connection again.
            conn.close()
    if prepares and answers[begins][0].status == ExecStatus.COMMAND_OK:
        # Prepared even if the execution then failed: a statement outlives its transaction.
        session.prepared[(query, types)] = name
    for results in answers:
        for result in results:
            if result.status == ExecStatus.FATAL_ERROR:
                error = psycopg.errors.error_from_result(result, encoding=conn.info.encoding)
                if error.sqlstate == _NO_SUCH_STATEMENT:
                    session.prepared.clear()  # the session lost them: prepared again when next run
                raise error
    return answers[-1][-1]


# SQLSTATE of "prepared statement does not exist": the session lost it (DEALLOCATE/DISCARD ALL).
_NO_SUCH_STATEMENT = "26000"


def _begin_command(conn: psycopg.Connection) -> bytes:
    """BEGIN with the connection's transaction characteristics, as psycopg would send it."""
    parts = [b"BEGIN"]
    if conn.isolation_level is not None:
        level = psycopg.IsolationLevel(conn.isolation_level)
        parts.append(b"ISOLATION LEVEL " + level.name.replace("_", " ").encode())
    if conn.read_only is not None:
        parts.append(b"READ ONLY" if conn.read_only else b"READ WRITE")
    if conn.deferrable is not None:
        parts.append(b"DEFERRABLE" if conn.deferrable else b"NOT DEFERRABLE")
    return b" ".join(parts)


_PLACEHOLDER = re.compile(rb"%(?:\((\w+)\))?([sbt%])")
_FORMATS = {b"s": PyFormat.AUTO, b"b": PyFormat.BINARY, b"t": PyFormat.TEXT}
# sql -> ($n query, parameter names or None for positional, formats): worked out once per statement.
_converted: dict[bytes, tuple[bytes, list[str] | None, list[PyFormat]]] = {}


def _bind(sql: bytes, params: Params) -> tuple[bytes, Sequence, list[PyFormat]]:
    """The statement with `$n` placeholders, the parameter values in that order, their formats."""
    converted = _converted.get(sql)
    if converted is None:
        converted = _converted[sql] = _convert(sql)
    query, names, formats = converted
    if params is None:
        return query, (), formats
    if names is None:
        return query, params, formats
    return query, [params[name] for name in names], formats


def _convert(sql: bytes) -> tuple[bytes, list[str] | None, list[PyFormat]]:
    names: list[str] = []
    formats: list[PyFormat] = []
    positional = 0

    def number(match: re.Match) -> bytes:
        nonlocal positional
        name, kind = match[1], match[2]
        if kind == b"%":
            return b"%"
        if name is None:
            positional += 1
            formats.append(_FORMATS[kind])
            return b"$%d" % positional
        name = name.decode()
        if name not in names:
            names.append(name)
            formats.append(_FORMATS[kind])
        return b"$%d" % (names.index(name) + 1)

    query = _PLACEHOLDER.sub(number, sql)
    if names and positional:
        raise ValueError("a statement takes %s or %(name)s placeholders, not both")
    return query, (names or None), formats
