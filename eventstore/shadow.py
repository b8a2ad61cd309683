"""Shadow copies of projection tables, for blue/green rebuilds and audits.

A shadow schema holds one empty table per live table, made `LIKE` it
(columns, defaults, identity, checks, indexes), with the live indexes' names,
the live grants and owner, and what an operator may have tuned (storage
parameters such as autovacuum's, columns' statistics targets and n_distinct,
the replica identity), so that once it is moved into the live schema it is
indistinguishable from the table it replaces. What a copy cannot carry
(triggers, row security and policies, publications, rules, views over the
table, foreign keys into it) makes a rebuild refuse before it builds
anything: the swap would drop them with the retired table. Handlers write
into it unchanged: `writing_into()` puts the shadow schema first on the
connection's search path, and every projection names its tables unqualified.

All DDL is here and runs on the caller's connection, so an operator may run
the rebuild as the tables' owner while the platform serves as a role that
owns nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.core import checks
from django.db import DatabaseError, connection

from .errors import ShadowInUse, SwapWouldLose
from .projections import registered_projections

REBUILD_SCHEMA = "projection_rebuild"  # what replay_events builds and swaps in
# What --dry-run and verify_projections build: the session's temporary tables. They need
# only the TEMP privilege (the serving role has it), vanish with a killed session, and
# no other session sees them.
CHECK_SCHEMA = "pg_temp"
RETIRED_SCHEMA = "projection_retired"  # the replaced live tables, dropped after the swap
_INDEX_NAME = re.compile(r"^CREATE (UNIQUE )?INDEX \S+ ON \S+ ")
# The column options a copy carries (the planner's overrides); the catalog may hold others.
_COLUMN_OPTIONS = ("n_distinct", "n_distinct_inherited")
_REPLICA_IDENTITY = {"f": "FULL", "n": "NOTHING"}  # "d" (default) is what LIKE makes; "i" names an index


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
    if not temporary:  # only a rebuild's shadow is swapped in
        refuse_what_a_swap_would_lose(live)
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
                _copy_settings(cursor, source, copy)


def refuse_what_a_swap_would_lose(live: dict[str, str]) -> None:
    """Raise SwapWouldLose if a live table ({table: its schema}) has what its copy would not carry."""
    found = what_a_swap_would_lose(live)
    dropped = [(table, kind, name) for table, kind, name in found if kind != "owner"]
    if dropped:
        listed = "; ".join(f"{table}: {kind} {name}".rstrip() for table, kind, name in dropped)
        raise SwapWouldLose(
            f"a rebuild would drop what these live tables have and their copies would not: {listed}. "
            "Remove them while the rebuild runs and make them again after it (docs/operations.md, "
            '"Projections: rebuild, dry run, audit")'
        )
    if found:
        owners = ", ".join(sorted({name for _table, _kind, name in found}))
        tables = ", ".join(table for table, _kind, _name in found)
        raise SwapWouldLose(
            f"run the rebuild as the projection tables' owner ({owners}, the migrations' role) or a member "
            f"of it: this role may not give the rebuilt {tables} to their owner"
        )


def what_a_swap_would_lose(live: dict[str, str]) -> list[tuple[str, str, str]]:
    """(table, kind, name) of what the live tables ({table: its schema}) have and their copies would not.

    The swap moves the live table away and drops it: its triggers, policies,
    rules and publication membership go with it, and so (by CASCADE) would
    views over it and other tables' foreign keys into it. A trigger or a
    policy copied onto the shadow would also act on the rebuild's own writes.
    An owner this role may not give the copy to (not a member of it) is listed too (kind "owner").
    """
    names = [qualified(schema, table) for table, schema in live.items()]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.oid::regclass::text, found.kind, found.name FROM pg_class c CROSS JOIN LATERAL (
                SELECT 'trigger', quote_ident(tgname) FROM pg_trigger WHERE tgrelid = c.oid AND NOT tgisinternal
                UNION ALL SELECT 'row level security', '' WHERE c.relrowsecurity
                UNION ALL SELECT 'policy', quote_ident(polname) FROM pg_policy WHERE polrelid = c.oid
                UNION ALL SELECT 'rule', quote_ident(rulename) FROM pg_rewrite
                WHERE ev_class = c.oid AND rulename <> '_RETURN'
                UNION ALL SELECT 'publication', quote_ident(p.pubname) FROM pg_publication_rel r
                JOIN pg_publication p ON p.oid = r.prpubid WHERE r.prrelid = c.oid
                UNION ALL SELECT DISTINCT 'view', v.oid::regclass::text FROM pg_depend d
                JOIN pg_rewrite w ON w.oid = d.objid JOIN pg_class v ON v.oid = w.ev_class
                WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
                  AND d.refobjid = c.oid AND v.oid <> c.oid
                UNION ALL SELECT 'foreign key', quote_ident(k.conname) || ' of ' || k.conrelid::regclass::text
                FROM pg_constraint k WHERE k.contype = 'f' AND k.confrelid = c.oid
                UNION ALL SELECT 'owner', quote_ident(pg_get_userbyid(c.relowner))
                WHERE NOT pg_has_role(c.relowner, 'MEMBER')
            ) AS found(kind, name)
            WHERE c.oid = ANY(%s::regclass[]) ORDER BY 1, 2, 3
            """,
            [names],
        )
        return [(table, kind, name) for table, kind, name in cursor.fetchall()]


@checks.register(checks.Tags.database)
def check_rebuilds_can_swap(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Warn, before a release step's `replay_events --outdated` meets it, of what would make a rebuild
    refuse (eventstore.W002). The owner is left out: the serving role, which runs checks too, may
    not act as the owner, and need not."""
    try:
        live = {t: live_schema(t) for p in registered_projections().values() for t in p.table_names()}
        found = [f for f in what_a_swap_would_lose(live) if f[1] != "owner"]
    except (DatabaseError, LookupError):
        return []  # no database or no tables yet (before migrate): nothing to swap either
    return [
        checks.Warning(
            f"a rebuild of {table} would refuse: it has {kind} {name}".rstrip(),
            hint="a rebuild's swap would drop it with the old table; take it away for the rebuild "
            '(docs/operations.md, "Projections: rebuild, dry run, audit")',
            id="eventstore.W002",
        )
        for table, kind, name in found
    ]


def _copy_settings(cursor, live: str, shadow: str) -> None:
    """Give the copy what LIKE leaves out: what an operator may have tuned (the table's and its TOAST
    table's storage parameters such as fillfactor and autovacuum's, each column's statistics target
    and n_distinct, the replica identity, whose index has the live name by now) and the owner."""
    cursor.execute(
        "SELECT c.reloptions, t.reloptions, c.relreplident, (SELECT i.relname FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid AND x.indisreplident), "
        "pg_get_userbyid(c.relowner), c.relowner <> (SELECT relowner FROM pg_class WHERE oid = %s::regclass) "
        "FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.oid = %s::regclass",
        [shadow, live],
    )
    options, toast_options, identity, identity_index, owner, other_owner = cursor.fetchone()
    if other_owner:
        # Run as another role (a superuser, say), the copy would leave the migrations' role a table
        # it does not own, and its next migration of that table failing.
        cursor.execute(f"ALTER TABLE {shadow} OWNER TO {quote(owner)}")
    parameters = [*(options or ()), *(f"toast.{option}" for option in toast_options or ())]
    if parameters:
        cursor.execute(f"ALTER TABLE {shadow} SET ({', '.join(_assignment(p) for p in parameters)})")
    if identity == "i":
        cursor.execute(f"ALTER TABLE {shadow} REPLICA IDENTITY USING INDEX {quote(identity_index)}")
    elif identity in _REPLICA_IDENTITY:
        cursor.execute(f"ALTER TABLE {shadow} REPLICA IDENTITY {_REPLICA_IDENTITY[identity]}")
    cursor.execute(
        "SELECT attname, attstattarget, attoptions FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        [live],
    )
    for column, statistics, column_options in cursor.fetchall():
        if statistics is not None and statistics >= 0:  # -1: the default target
            cursor.execute(
                f"ALTER TABLE {shadow} ALTER COLUMN {quote(column)} SET STATISTICS {int(statistics)}"
            )
        kept = [o for o in column_options or () if o.split("=", 1)[0] in _COLUMN_OPTIONS]
        if kept:
            assignments = ", ".join(_assignment(o) for o in kept)
            cursor.execute(f"ALTER TABLE {shadow} ALTER COLUMN {quote(column)} SET ({assignments})")


# What create_shadow copies from a live table besides its columns and indexes, as one comparable row:
# the owner, the privileges granted to others, storage parameters (the table's and its TOAST
# table's), the replica identity and each column's statistics target and options.
_COPIED_SETTINGS = """
    SELECT ROW(c.relowner, ARRAY(
        SELECT a.privilege_type || ' ' || a.grantee || ' ' || a.is_grantable
        FROM aclexplode(c.relacl) a WHERE a.grantee <> c.relowner ORDER BY 1
    ), c.reloptions, t.reloptions, c.relreplident, (
        SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = c.oid AND x.indisreplident
    ), ARRAY(
        SELECT (a.attname, a.attstattarget, a.attoptions)::text FROM pg_attribute a
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
    ))
    FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.oid = {table}
"""


def copy_settings_changed_meanwhile(schema: str, live: dict[str, str]) -> None:
    """Under the swap's locks: copy again, for each table whose owner, grants or tuned settings
    changed since the shadow was made, what create_shadow copied.

    Otherwise a GRANT, REVOKE, ALTER TABLE ... SET or OWNER TO made while the build ran would be
    undone by the swap (a revoked privilege granted again). One query when nothing changed.
    """
    tables = list(live)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pair.name FROM unnest(%s::text[], %s::text[], %s::text[]) AS pair(name, live, copy) "
            f"WHERE ({_COPIED_SETTINGS.format(table='pair.live::regclass')}) "
            f"IS DISTINCT FROM ({_COPIED_SETTINGS.format(table='pair.copy::regclass')})",
            [
                tables,
                [qualified(live[table], table) for table in tables],
                [qualified(schema, table) for table in tables],
            ],
        )
        changed = [name for (name,) in cursor.fetchall()]
        for table in changed:
            source, copy = qualified(live[table], table), qualified(schema, table)
            _clear_settings(cursor, copy)
            _copy_settings(cursor, source, copy)
            _copy_grants(cursor, source, copy)


def _clear_settings(cursor, table: str) -> None:
    """Take from `table` what _copy_settings and _copy_grants give, but the owner: as LIKE made it."""
    for privilege, grantee, _grantable in _grants(cursor, table):
        cursor.execute(f"REVOKE {privilege} ON {table} FROM {grantee} CASCADE")
    cursor.execute(
        "SELECT c.reloptions, t.reloptions FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid "
        "WHERE c.oid = %s::regclass",
        [table],
    )
    options, toast_options = cursor.fetchone()
    names = [
        *(o.split("=", 1)[0] for o in options or ()),
        *(f"toast.{o.split('=', 1)[0]}" for o in toast_options or ()),
    ]
    if names:
        cursor.execute(f"ALTER TABLE {table} RESET ({', '.join(names)})")
    cursor.execute(f"ALTER TABLE {table} REPLICA IDENTITY DEFAULT")
    cursor.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
        "AND (attstattarget >= 0 OR attoptions IS NOT NULL)",
        [table],
    )
    for (column,) in cursor.fetchall():
        cursor.execute(
            f"ALTER TABLE {table} ALTER COLUMN {quote(column)} SET STATISTICS -1, "
            f"ALTER COLUMN {quote(column)} RESET ({', '.join(_COLUMN_OPTIONS)})"
        )


def _assignment(option: str) -> str:
    # The catalog stores `name=value`; names are Postgres' own, the value goes in as a literal.
    name, value = option.split("=", 1)
    return f"{name} = '{value.replace(chr(39), chr(39) * 2)}'"


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


def _grants(cursor, table: str) -> list[tuple[str, str, bool]]:
    """(privilege, grantee as SQL, with grant option) of what `table`'s owner granted to others."""
    cursor.execute(
        "SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END, "
        "a.is_grantable "
        "FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
        "WHERE c.oid = %s::regclass AND a.grantee <> c.relowner",
        [table],
    )
    return cursor.fetchall()


def _copy_grants(cursor, live: str, shadow: str) -> None:
    for privilege, grantee, grantable in _grants(cursor, live):
        option = " WITH GRANT OPTION" if grantable else ""
        cursor.execute(f"GRANT {privilege} ON {shadow} TO {grantee}{option}")


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
