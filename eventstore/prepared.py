"""Hot statements as prepared statements on Django's own connection (so in its transaction).

Django's psycopg cursors bind parameters on the client: the statement is
rendered again in Python on every call and Postgres plans it every time.
For the few statements that run per event or per wake-up (the append, the
relay's reads and checkpoint writes, a consumer's checkpoint moves) that was
a large part of their cost; here they run with server-side binding and are
prepared once per connection. The batch handlers' set-based statements
(`projections.execute_with_arrays`) run on the same cursor, with binary
parameters, prepared only if they repeat. Errors are wrapped like Django's own
(a lost connection is a `django.db.OperationalError`, and Django knows to drop it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.types.datetime import TimestamptzLoader

Params = Sequence | Mapping | None


def fetchall(sql: bytes, params: Params = None) -> list[tuple]:
    """Run `sql` (bytes, `%s` or `%(name)s` placeholders) prepared; return its rows."""
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper once: each `connection.x` looks it up again
    with db.wrap_database_errors:
        cursor = _cursor(db)
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchall()


def fetchone(sql: bytes, params: Params = None) -> tuple | None:
    rows = fetchall(sql, params)
    return rows[0] if rows else None


def execute(sql: bytes | str, params: Params = None, *, prepare: bool | None = True) -> int:
    """Run a statement that returns no rows; return how many rows it changed.

    `prepare=None` leaves it to psycopg's threshold, for statements that vary
    (the batch handlers' inserts); `%b` placeholders send a value in binary.
    """
    db = connections[DEFAULT_DB_ALIAS]
    with db.wrap_database_errors:
        cursor = _cursor(db)
        cursor.execute(sql, params, prepare=prepare)
        return cursor.rowcount


def _cursor(db: BaseDatabaseWrapper) -> psycopg.Cursor:
    """One psycopg cursor per database connection, kept for these statements.

    A cursor caches how it dumps each parameter type; a fresh one per call
    would work that out again every time. A reconnect makes a new cursor.
    Query bytes, not str: psycopg would encode (and hash) a str on every call.
    """
    db.ensure_connection()
    cursor = getattr(db, "_eventstore_cursor", None)
    if cursor is None or cursor.connection is not db.connection or cursor.closed:
        cursor = psycopg.Cursor(db.connection)
        if settings.USE_TZ:
            # Django's own timestamptz loader (Python) sets the connection's zone,
            # UTC, which the session's TimeZone gives already: psycopg's loader,
            # in C, returns the same values at a tenth of the cost per row.
            cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        db._eventstore_cursor = cursor
    return cursor
