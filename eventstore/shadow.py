"""Shadow copies of projection tables, for blue/green rebuilds and audits.

A shadow schema holds one empty table per live table, made `LIKE` it
(columns, defaults, identity, checks, indexes), with the live indexes' names
and the live grants, so that once it is moved into the live schema it is
indistinguishable from a table the migrations made. Handlers write into it
unchanged: `writing_into()` puts the shadow schema first on the connection's
search path, and every projection names its tables unqualified.

All DDL is here and runs on the caller's connection, so an operator may run
the rebuild as the tables' owner while the platform serves as a role that
owns nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.db import connection

from .errors import ShadowInUse

REBUILD_SCHEMA = "projection_rebuild"  # what replay_events builds and swaps in
# What --dry-run and verify_projections build: the session's temporary tables. They need
# only the TEMP privilege (the serving role has it), vanish with a killed session, and
# no other session sees them.
CHECK_SCHEMA = "pg_temp"
RETIRED_SCHEMA = "projection_retired"  # the replaced live tables, dropped after the swap
_INDEX_NAME = re.compile(r"^CREATE (UNIQUE )?INDEX \S+ ON \S+ ")


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def live_schema(table: str) -> str:
    """The schema the live table is found in (the connection's search path decides)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.oid = to_regclass(%s)",
            [quote(table)],
        )
        row = cursor.fetchone()
    if row is None:
        raise LookupError(f"projection table {table!r} does not exist")
    return row[0]


def qualified(schema: str, table: str) -> str:
    return f"{quote(schema)}.{quote(table)}"


def create_shadow(schema: str, live: dict[str, str]) -> None:
    """(Re)create `schema` with an empty copy of each live table ({table: its schema}).

    A leftover shadow is dropped first. With CHECK_SCHEMA the copies are
    temporary tables: as long as they exist, unqualified names of this session
    find them first, so callers name live tables with their schema.
    """
    temporary = schema == CHECK_SCHEMA
    drop_shadow(schema, live)
    with connection.cursor() as cursor:
        if not temporary:
            cursor.execute(f"CREATE SCHEMA {quote(schema)}")
        for table, table_schema in live.items():
            source, copy = qualified(table_schema, table), qualified(schema, table)
            cursor.execute(
                f"CREATE {'TEMPORARY ' if temporary else ''}TABLE {copy} (LIKE {source} INCLUDING ALL)"
            )
            _copy_index_names(cursor, source, copy, schema)
            if not temporary:
                _copy_grants(cursor, source, copy)


def drop_secondary_indexes(schema: str, tables: Sequence[str]) -> dict[str, list[str]]:
    """Drop the indexes of the shadow's `tables` that enforce nothing; return, by table, the statements
    making them.

    A build fills the tables first and makes these indexes afterwards (`complete`):
    one sort per index instead of an index entry kept up for every row written
    (docs/benchmarks.md, "Rebuild speed"). Unique indexes and constraints' indexes stay,
    so a duplicate still fails where it would live.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.relname, c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE n.nspname = %s AND t.relname = ANY(%s) AND NOT i.indisunique "
            "AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid) ORDER BY 2",
            [schema, list(tables)],
        )
        found = cursor.fetchall()
        deferred: dict[str, list[str]] = {}
        for table, name, definition in found:
            cursor.execute(f"DROP INDEX {qualified(schema, name)}")
            deferred.setdefault(table, []).append(definition)
    return deferred


def complete(schema: str, tables: Sequence[str], deferred: dict[str, list[str]]) -> None:
    """Once `tables` are built: make their indexes that `drop_secondary_indexes` deferred, then
    give the planner their statistics before they serve (a new table has none)."""
    with connection.cursor() as cursor:
        for table in tables:
            for definition in deferred.get(table, ()):
                cursor.execute(definition)
        for table in tables:
            cursor.execute(f"ANALYZE {qualified(schema, table)}")


def drop_shadow(schema: str, tables: Sequence[str] = ()) -> None:
    """Drop the shadow schema (or, for CHECK_SCHEMA, this session's temporary copies of `tables`)."""
    with connection.cursor() as cursor:
        if schema != CHECK_SCHEMA:
            cursor.execute(f"DROP SCHEMA IF EXISTS {quote(schema)} CASCADE")
        elif tables:
            cursor.execute(f"DROP TABLE IF EXISTS {', '.join(qualified(schema, t) for t in tables)}")


def _indexes(cursor, table: str) -> list[tuple[str, str]]:
    cursor.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass ORDER BY c.relname",
        [table],
    )
    return [(name, _INDEX_NAME.sub(r"CREATE \1INDEX ON ", definition)) for name, definition in cursor]


def _copy_index_names(cursor, live: str, shadow: str, schema: str) -> None:
    # LIKE names the copies itself; Django's migrations refer to the live names.
    wanted = _indexes(cursor, live)
    for name, definition in _indexes(cursor, shadow):
        match = next((w for w in wanted if w[1] == definition), None)
        if match is None or match[0] == name:
            continue
        wanted.remove(match)
        # Renaming a constraint's index renames the constraint too.
        cursor.execute(f"ALTER INDEX {qualified(schema, name)} RENAME TO {quote(match[0])}")


def _copy_grants(cursor, live: str, shadow: str) -> None:
    cursor.execute(
        "SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END "
        "FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
        "WHERE c.oid = %s::regclass AND a.grantee <> c.relowner",
        [live],
    )
    for privilege, grantee in cursor.fetchall():
        cursor.execute(f"GRANT {privilege} ON {shadow} TO {grantee}")


@contextmanager
def writing_into(schema: str) -> Iterator[None]:
    """Inside a transaction: unqualified table names find the shadow's tables first."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('search_path')")
        before = cursor.fetchone()[0]
        cursor.execute("SELECT set_config('search_path', %s, true)", [f"{quote(schema)}, {before}"])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('search_path', %s, true)", [before])


def give_up_waiting_after(timeout_ms: int) -> None:
    """For the rest of the swap's transaction, a lock not granted within `timeout_ms` is an error.

    Giving up quickly matters twice: requests queue behind a waiting ACCESS
    EXCLUSIVE request, and a writer holding one of the tables while it waits
    for another would otherwise deadlock with the swap (and might be the one
    Postgres aborts). The caller retries.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{timeout_ms}ms"])


def commit_without_waiting_for_the_flush() -> None:
    """For the swap's transaction: its commit releases the locks without waiting for the WAL fsync.

    Safe because the WAL is written in order: a writer that commits into a
    swapped-in table (synchronously) flushes the swap's commit record with its
    own, so no durable write can sit on a swap that a crash loses; a crash
    before that leaves the old live tables, as a rebuild killed before its
    swap does.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('synchronous_commit', 'off', true)")


def lock_live(live: dict[str, str]) -> None:
    """Take the swap's lock on the live tables ({table: its schema}): their users wait for the commit."""
    names = ", ".join(qualified(schema, table) for table, schema in live.items())
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE")


def swap_in(schema: str, live: dict[str, str]) -> None:
    """Inside the swap's transaction, live tables locked: move the shadow's tables into their place.

    `live` maps each table to its live schema. The replaced tables go to
    RETIRED_SCHEMA (made by `prepare_retired`), dropped by `drop_retired()` after
    commit. Statements already waiting for a live table look its name up again
    once they get the lock, so they find the new table (Postgres re-plans
    prepared statements after such a change too).
    """
    moves = []
    for table, target in live.items():
        moves.append(f"ALTER TABLE {qualified(target, table)} SET SCHEMA {quote(RETIRED_SCHEMA)}")
        moves.append(f"ALTER TABLE {qualified(schema, table)} SET SCHEMA {quote(target)}")
    # One round trip for every move: on a busy machine each round trip waits for
    # the CPU twice (server, then client), and the live tables are locked meanwhile.
    with connection.cursor() as cursor:
        cursor.execute("; ".join(moves))


def prepare_retired() -> None:
    """Before the swap: an empty schema to move the replaced tables to (a leftover one is dropped)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {quote(RETIRED_SCHEMA)} CASCADE")
        cursor.execute(f"CREATE SCHEMA {quote(RETIRED_SCHEMA)}")


def drop_retired() -> None:
    drop_shadow(RETIRED_SCHEMA)


@contextmanager
def exclusive_use(schema: str) -> Iterator[None]:
    """One rebuild per shadow schema at a time: a second one is refused at once."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [f"eventstore.shadow:{schema}"])
        if not cursor.fetchone()[0]:
            raise ShadowInUse(f"another rebuild is using the shadow schema {schema!r}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [f"eventstore.shadow:{schema}"])
