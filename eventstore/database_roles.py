"""The application's database role: what it may do, granted by the role that owns the schema.

Guarantee 2 holds against the application itself: the processes that serve
requests and run subscribers connect as a role that owns nothing and is not a
superuser, so it can neither disable the log's triggers (`ALTER TABLE`,
`session_replication_role`) nor change the log (`UPDATE`, `DELETE`,
`TRUNCATE`). Migrations run as the owner, which then calls `grant_app_role`
(`manage.py setup_roles`) again.

What the application role gets, in the `public` schema:
- every table: SELECT, INSERT, UPDATE, DELETE, TRUNCATE (a rebuild runs as
  the owner: it swaps in new tables and copies these grants to them);
- every append-only table (one whose rows a trigger calling
  `eventstore_refuse_change` protects, e.g. the log and any partition of it):
  SELECT and INSERT only;
- `django_migrations`, `eventstore_position_base` and `eventstore_partition_head`: SELECT only (the schema
  is the owner's business; the base and the head only move through the owner's functions);
- sequences: USAGE, SELECT; functions: EXECUTE;
- `pg_read_all_stats`, when the granting role may give it: the horizon report
  names the session that holds it (state, transaction start), and Postgres
  shows those of other roles' sessions only to such members.
Tables, sequences and functions that the owner creates later get the same by
default privileges; an append-only table then loses UPDATE, DELETE and
TRUNCATE when `setup_roles` runs after the migration (its trigger refuses them
meanwhile).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from psycopg import sql

from .errors import RoleSetupError

TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE, TRUNCATE"
APPEND_ONLY_TRIGGER_FUNCTION = "eventstore_refuse_change"
# Tables the application only reads: the schema's history, and the position base that
# only the owner's SECURITY DEFINER function may raise, and the partitions' head that only the
# owner's partition function moves (each skipped where it does not exist).
READ_ONLY_TABLES = ("django_migrations", "eventstore_position_base", "eventstore_partition_head")
STATISTICS_ROLE = "pg_read_all_stats"


@dataclass(frozen=True)
class RoleSetup:
    role: str
    created: bool
    append_only_tables: list[str]
    reads_all_statistics: bool


def append_only_tables() -> list[str]:
    """Tables of the public schema whose changes a trigger refuses (the log and its partitions)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT c.relname FROM pg_trigger t
            JOIN pg_class c ON c.oid = t.tgrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_proc p ON p.oid = t.tgfoid
            WHERE n.nspname = 'public' AND p.proname = %s
            ORDER BY c.relname
            """,
            [APPEND_ONLY_TRIGGER_FUNCTION],
        )
        return [row[0] for row in cursor.fetchall()]


def grant_app_role(role: str, *, password: str | None = None) -> RoleSetup:
    """Create `role` if needed and give it exactly the application's privileges (re-runnable).

    Runs as the owner of the schema (the role that ran the migrations), in one
    transaction: a failure leaves the grants as they were.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        owner = cursor.fetchone()[0]
        if role == owner:
            raise RoleSetupError(f"the application role must not be the owner ({owner}) that runs migrations")
        name = sql.Identifier(role)
        created = _ensure_login_role(cursor, role, name, password)
        _refuse_owner_powers(cursor, role, owner)
        _run(
            cursor,
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(connection.settings_dict["NAME"]), name
            ),
        )
        _run(cursor, sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(name))
        _run(cursor, sql.SQL("REVOKE CREATE ON SCHEMA public FROM {}").format(name))
        for statement in _object_grants(name):
            _run(cursor, statement)
        for statement in _default_grants(name, sql.Identifier(owner)):
            _run(cursor, statement)
        tables = append_only_tables()
        for table in tables:
            _run(
                cursor,
                sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON {} FROM {}").format(sql.Identifier(table), name),
            )
        for table in READ_ONLY_TABLES:
            cursor.execute("SELECT to_regclass(%s)", [f"public.{table}"])
            if cursor.fetchone()[0] is None:
                continue
            _run(
                cursor,
                sql.SQL("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {} FROM {}").format(
                    sql.Identifier(table), name
                ),
            )
        reads_statistics = _grant_statistics(cursor, name)
    return RoleSetup(role, created, tables, reads_statistics)


def _ensure_login_role(cursor, role: str, name: sql.Identifier, password: str | None) -> bool:
    attributes = sql.SQL("LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS")
    if password:
        attributes = sql.SQL("{} PASSWORD {}").format(attributes, sql.Literal(password))
    cursor.execute(
        "SELECT rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls OR NOT rolcanlogin "
        "FROM pg_roles WHERE rolname = %s",
        [role],
    )
    found = cursor.fetchone()
    if found is None:
        _run(cursor, sql.SQL("CREATE ROLE {} {}").format(name, attributes))
        return True
    if found[0] or password:  # only then: altering another role needs CREATEROLE
        _run(cursor, sql.SQL("ALTER ROLE {} {}").format(name, attributes))
    return False


def _refuse_owner_powers(cursor, role: str, owner: str) -> None:
    """A role that owns objects here, or acts as the owner, could disable the log's triggers."""
    cursor.execute(
        """
        SELECT (SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
                WHERE r.rolname = %(role)s),
               (SELECT count(*) FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner
                WHERE r.rolname = %(role)s),
               pg_has_role(%(role)s, %(owner)s, 'MEMBER'),
               (SELECT r.rolname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba
                WHERE d.datname = current_database())
        """,
        {"role": role, "owner": owner},
    )
    tables, functions, member_of_owner, database_owner = cursor.fetchone()
    if tables or functions:
        raise RoleSetupError(
            f"{role} owns {tables} relations and {functions} functions here; it must own none"
        )
    if member_of_owner:
        raise RoleSetupError(f"{role} is a member of the owner {owner}: it would hold the owner's powers")
    if database_owner == role:
        raise RoleSetupError(f"{role} owns the database; it must own nothing")


def _object_grants(name: sql.Identifier) -> list[sql.Composed]:
    return [
        sql.SQL(f"GRANT {TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA public TO {{}}").format(name),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(name),
        sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {}").format(name),
    ]


def _default_grants(name: sql.Identifier, owner: sql.Identifier) -> list[sql.Composed]:
    prefix = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT ").format(owner)
    return [
        prefix + sql.SQL(f"{TABLE_PRIVILEGES} ON TABLES TO {{}}").format(name),
        prefix + sql.SQL("USAGE, SELECT ON SEQUENCES TO {}").format(name),
        prefix + sql.SQL("EXECUTE ON FUNCTIONS TO {}").format(name),
    ]


def _grant_statistics(cursor, name: sql.Identifier) -> bool:
    """Grant pg_read_all_stats if this role may (a superuser, or one holding it WITH ADMIN OPTION)."""
    cursor.execute(
        "SELECT rolsuper OR pg_has_role(current_user, %s, 'USAGE WITH ADMIN OPTION') "
        "FROM pg_roles WHERE rolname = current_user",
        [STATISTICS_ROLE],
    )
    if not cursor.fetchone()[0]:
        return False
    _run(cursor, sql.SQL("GRANT {} TO {}").format(sql.Identifier(STATISTICS_ROLE), name))
    return True


def _run(cursor, statement: sql.Composable) -> None:
    """Run a statement composed with quoted identifiers (as text: Django's cursor logs text)."""
    cursor.execute(statement.as_string(connection.connection))
