"""What the event store keeps per database connection, and how a statement is bound.

Placeholders are `%s` or `%(name)s` (not both in one statement), `%b` for a
binary parameter, `%%` for a percent sign. A statement is converted to `$n`
placeholders once per process and prepared once per connection.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import psycopg
from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.adapt import PyFormat, Transformer
from psycopg.types.datetime import TimestamptzLoader

Params = Sequence | Mapping | None
StatementKey = tuple[bytes, tuple[int, ...]]  # the $n query and its parameters' types


class Session:
    """One connection's adapters and the statements prepared on it."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        context = psycopg.Cursor(conn)  # only for its copy of the connection's adapters
        if settings.USE_TZ:
            # Django's own timestamptz loader (Python) sets the connection's zone,
            # UTC, which the session's TimeZone gives already: psycopg's loader,
            # in C, returns the same values at a tenth of the cost per row.
            context.adapters.register_loader("timestamptz", TimestamptzLoader)
        self.transformer = Transformer(context)
        self.prepared: dict[StatementKey, bytes] = {}
        self.runs: dict[StatementKey, int] = {}
        self.names = 0  # never reused: a name once given may still exist on the server
        # BEGIN for each (isolation level, read only, deferrable) seen: worked out once, not per transaction.
        self.begin_commands: dict[tuple, bytes] = {}

    def statement_name(self, key: StatementKey, prepare: bool | None) -> bytes | None:
        """The name it is (or is about to be) prepared under; None to run it unnamed.

        `prepare=None` prepares it once it has run `prepare_threshold` times here.
        """
        if name := self.prepared.get(key):
            return name
        threshold = self.conn.prepare_threshold
        if threshold is None or prepare is False:  # preparing is off (DB_PREPARE_THRESHOLD=0)
            return None
        if prepare is None:
            runs = self.runs[key] = self.runs.get(key, 0) + 1
            if runs <= threshold:
                return None
        self.names += 1
        return b"eventstore_%d" % self.names


def session_of(db: BaseDatabaseWrapper) -> Session:
    if db.connection is None:  # what ensure_connection() looks at first, without its wrappers
        db.ensure_connection()
    session = getattr(db, "_eventstore_session", None)
    if session is None or session.conn is not db.connection:  # a reconnect starts afresh
        session = db._eventstore_session = Session(db.connection)
    return session


_PLACEHOLDER = re.compile(rb"%(?:\((\w+)\))?([sbt%])")
_FORMATS = {b"s": PyFormat.AUTO, b"b": PyFormat.BINARY, b"t": PyFormat.TEXT}
# sql -> ($n query, parameter names or None for positional, formats): worked out once per statement.
_converted: dict[bytes, tuple[bytes, list[str] | None, list[PyFormat]]] = {}


def bind(sql: bytes, params: Params) -> tuple[bytes, Sequence, list[PyFormat]]:
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
