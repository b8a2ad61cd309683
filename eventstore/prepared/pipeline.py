"""A statement sent in a libpq pipeline with what must precede it, read back after one Sync.

A pipeline that finds its transaction not begun yet sends the BEGIN first, so
the BEGIN costs no round trip of its own; a statement not yet prepared on the
connection goes with its PREPARE.
"""

from __future__ import annotations

import contextlib

import psycopg
from psycopg import generators, pq

from .session import Params, Session, StatementKey, bind

ExecStatus = pq.ExecStatus
_IDLE = pq.TransactionStatus.IDLE
# SQLSTATE of "prepared statement does not exist": the session lost it (DEALLOCATE/DISCARD ALL).
_NO_SUCH_STATEMENT = "26000"


class Pipeline:
    """One exchange on the connection; opened by `eventstore.prepared`'s calls (`_ConnectionPipeline`).

    Until `finish` (or `close`) no other statement may run on the connection,
    through Django or psycopg: it would read this pipeline's results as its own.
    Each call takes psycopg's connection lock only while it works on the
    connection, so a mistake shows as an error there, never as a deadlock.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._conn = conn = session.conn
        self._pgconn = conn.pgconn
        # What each result read back will answer: ("begin"|"statement", None),
        # or ("prepare", (key, name)).
        self._expected: list[tuple[str, tuple[StatementKey, bytes] | None]] = []
        # Statements this pipeline prepares: a statement sent again before `finish` reuses its PREPARE.
        self._preparing: dict[StatementKey, bytes] = {}
        self.statements = 0
        with conn.lock:
            self.begins = self._pgconn.transaction_status == _IDLE and not conn.autocommit
            self._pgconn.enter_pipeline_mode()
            self._open = True
            if self.begins:
                self._pgconn.send_query_params(_begin_command(session), None)
                self._expected.append(("begin", None))

    def send(
        self,
        sql: bytes,
        params: Params = None,
        *,
        first_in_transaction: bytes | None = None,
        prepare: bool | None = True,
    ) -> None:
        """Queue a statement; `first_in_transaction` is its variant for when it begins the transaction."""
        if first_in_transaction is not None and self.begins and not self.statements:
            sql = first_in_transaction
        query, values, formats = bind(sql, params)
        tx = self._session.transformer
        dumped = tx.dump_sequence(values, formats) if values else ()
        types = tuple(tx.types or ()) if values else ()
        pq_formats = tx.formats if values else None
        key = (query, types)
        name = self._preparing.get(key) or self._session.statement_name(key, prepare)
        pgconn = self._pgconn
        with self._conn.lock:
            if name is not None and key not in self._session.prepared and key not in self._preparing:
                pgconn.send_prepare(name, query, param_types=types)
                self._preparing[key] = name
                self._expected.append(("prepare", (key, name)))
            if name is None:
                pgconn.send_query_params(query, dumped, param_types=types, param_formats=pq_formats)
            else:
                pgconn.send_query_prepared(name, dumped, param_formats=pq_formats)
            self._expected.append(("statement", None))
            self.statements += 1

    def finish(self) -> list[pq.abc.PGresult]:
        """Send the Sync, read everything back; the statements' results, or the first error raised."""
        answers = self._drain()
        results = []
        error = None
        for (kind, detail), found in zip(self._expected, answers, strict=True):
            result = found[-1]
            if kind == "prepare" and result.status == ExecStatus.COMMAND_OK:
                # Prepared even if its execution then failed: a statement outlives its transaction.
                key, name = detail
                self._session.prepared[key] = name
            if error is None:
                error = next((r for r in found if r.status == ExecStatus.FATAL_ERROR), None)
            if kind == "statement":
                results.append(result)
        if error is not None:
            exception = psycopg.errors.error_from_result(error, encoding=self._conn.info.encoding)
            if exception.sqlstate == _NO_SUCH_STATEMENT:
                self._session.prepared.clear()  # the session lost them: prepared again when next run
            raise exception
        return results

    def close(self) -> None:
        """Give the connection back, reading and dropping whatever is still due (after an error)."""
        if self._open:
            # A lost connection: _drain closed it, and Django reconnects.
            with contextlib.suppress(psycopg.Error):
                self._drain()

    def rows(self, result: pq.abc.PGresult) -> list[tuple]:
        tx = self._session.transformer
        tx.set_pgresult(result)
        return tx.load_rows(0, result.ntuples, tuple)

    def _drain(self) -> list[list[pq.abc.PGresult]]:
        with self._conn.lock:
            return self._drain_locked()

    def _drain_locked(self) -> list[list[pq.abc.PGresult]]:
        conn, pgconn = self._conn, self._pgconn
        self._open = False
        try:
            pgconn.pipeline_sync()
            # Separate waits on psycopg's C generators: cheaper than one chained Python
            # generator with a single wait (docs/benchmarks.md).
            conn.wait(generators.send(pgconn))
            answers = [conn.wait(generators.fetch_many(pgconn)) for _ in self._expected]
            conn.wait(generators.fetch(pgconn))  # the Sync's own result
        finally:
            try:
                pgconn.exit_pipeline_mode()
            except psycopg.OperationalError:
                # Results left unread (the connection was lost, or the wait was
                # interrupted): psycopg could not use this connection again.
                conn.close()
        return answers


def _begin_command(session: Session) -> bytes:
    """BEGIN with the connection's transaction characteristics, as psycopg would send it."""
    conn = session.conn
    characteristics = (conn.isolation_level, conn.read_only, conn.deferrable)
    command = session.begin_commands.get(characteristics)
    if command is None:
        command = session.begin_commands[characteristics] = _begin_for(conn)
    return command


def _begin_for(conn: psycopg.Connection) -> bytes:
    parts = [b"BEGIN"]
    if conn.isolation_level is not None:
        level = psycopg.IsolationLevel(conn.isolation_level)
        parts.append(b"ISOLATION LEVEL " + level.name.replace("_", " ").encode())
    if conn.read_only is not None:
        parts.append(b"READ ONLY" if conn.read_only else b"READ WRITE")
    if conn.deferrable is not None:
        parts.append(b"DEFERRABLE" if conn.deferrable else b"NOT DEFERRABLE")
    return b" ".join(parts)
