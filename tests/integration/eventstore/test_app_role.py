"""Guarantee 2 against the application itself: its database role cannot rewrite history.

Every test connects as the role that `manage.py setup_roles` prepares (not a
superuser, owning nothing) to the real test database, and checks that
Postgres refuses by privilege, before any trigger runs.
"""

import uuid

import psycopg
import pytest
from django.db import connection
from psycopg import errors

from eventstore.database_roles import append_only_tables, grant_app_role
from eventstore.errors import RoleSetupError
from eventstore.reading import HORIZON_SQL
from tests.app_role import app_role_name, connect_as_app_role, ensure_app_role
from tests.db_sessions import open_session
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db(transaction=True)

INSERT_EVENT = """
INSERT INTO eventstore_event (position, id, stream_id, stream_version, type, schema_version, data,
                              source, correlation_id)
VALUES ((SELECT base FROM eventstore_position_base) + (pg_current_xact_id()::text::bigint << 20) + 1,
        gen_random_uuid(), %s, 1, %s, 2,
        '{"label": "raw"}', 'test', gen_random_uuid())
RETURNING position
"""


@pytest.fixture
def app_session():
    ensure_app_role()
    session = connect_as_app_role()
    yield session
    session.close()


def refused(session: psycopg.Connection, statement: str) -> str:
    """Run `statement` as the app role; it must be refused for lack of privilege. Returns the message."""
    with pytest.raises(errors.InsufficientPrivilege) as refusal:
        session.execute(statement)
    return str(refusal.value)


def test_the_app_role_is_no_superuser_and_owns_nothing(app_session):
    role = app_role_name()
    row = app_session.execute(
        """
        SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls,
               (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid),
               (SELECT count(*) FROM pg_proc p WHERE p.proowner = r.oid),
               has_schema_privilege(r.oid, 'public', 'CREATE')
        FROM pg_roles r WHERE r.rolname = current_user
        """
    ).fetchone()
    assert app_session.execute("SELECT current_user").fetchone()[0] == role
    assert row == (False, False, False, False, 0, 0, False)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE eventstore_event SET data = '{}'::jsonb",
        "DELETE FROM eventstore_event",
        "TRUNCATE eventstore_event",
    ],
)
def test_plain_changes_to_the_log_are_refused_by_privilege_not_only_by_trigger(app_session, statement):
    message = refused(app_session, statement)
    assert "permission denied for table eventstore_event" in message


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE eventstore_event DISABLE TRIGGER ALL",
        "ALTER TABLE eventstore_event DISABLE TRIGGER eventstore_event_no_update_delete",
        "DROP TRIGGER eventstore_event_no_truncate ON eventstore_event",
        "SET session_replication_role = replica",
        "DROP TABLE eventstore_event",
        "ALTER TABLE eventstore_event ADD COLUMN note text",
        "ALTER TABLE eventstore_event RENAME TO eventstore_event_before",
        "ALTER TABLE eventstore_event DROP CONSTRAINT eventstore_event_id_key",
        "CREATE OR REPLACE FUNCTION eventstore_refuse_change() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
        "CREATE TABLE intruder (id int)",
        "SET ROLE postgres",
        "DELETE FROM django_migrations",
    ],
)
def test_ways_around_the_triggers_are_refused(app_session, statement):
    refused(app_session, statement)


def test_the_app_role_cannot_make_itself_more_powerful(app_session):
    refused(app_session, f'ALTER ROLE "{app_role_name()}" SUPERUSER')
    refused(app_session, f'ALTER TABLE eventstore_event OWNER TO "{app_role_name()}"')


def test_what_the_platform_needs_works_as_the_app_role(app_session):
    stream_id = f"thing-{uuid.uuid4()}"
    position = app_session.execute(INSERT_EVENT, [stream_id, THING_HAPPENED.name]).fetchone()[0]
    stored = app_session.execute("SELECT position FROM eventstore_event WHERE stream_id = %s", [stream_id])
    assert stored.fetchall() == [(position,)]
    # Projections and checkpoints: written, changed, removed; rebuilds truncate and lock them.
    name = f"probe-{uuid.uuid4()}"
    app_session.execute(
        "INSERT INTO eventstore_checkpoint (name, position, updated_at) VALUES (%s, 1, now())", [name]
    )
    app_session.execute("UPDATE eventstore_checkpoint SET position = 2 WHERE name = %s", [name])
    app_session.execute("DELETE FROM eventstore_checkpoint WHERE name = %s", [name])
    with app_session.transaction():
        app_session.execute("LOCK TABLE community_app_post IN EXCLUSIVE MODE")
    app_session.execute("SELECT pg_try_advisory_lock(1), pg_advisory_unlock(1)")


def test_the_app_role_follows_the_log_gap_safely_behind_another_roles_open_writer(app_session):
    """Guarantee 5 as the app role: a writer of another role, still open, hides later commits.

    The horizon reads other sessions' transaction ids from pg_stat_activity,
    which Postgres shows to every role (unlike their state or query).
    """
    owner = open_session()
    try:
        earlier = owner.execute(INSERT_EVENT, [f"thing-{uuid.uuid4()}", THING_HAPPENED.name]).fetchone()[0]
        later = app_session.execute(INSERT_EVENT, [f"thing-{uuid.uuid4()}", THING_HAPPENED.name]).fetchone()[
            0
        ]
        assert later > earlier

        def followable() -> list[int]:
            horizon = app_session.execute(f"SELECT {HORIZON_SQL}").fetchone()[0]
            rows = app_session.execute(
                "SELECT position FROM eventstore_event WHERE position >= %s AND position < %s ORDER BY position",
                [earlier, horizon],
            )
            return [row[0] for row in rows]

        assert followable() == []  # the later commit stays hidden while the earlier writer is open
        owner.commit()
        assert followable() == [earlier, later]
    finally:
        owner.close()


def test_tables_created_by_later_migrations_get_grants_and_append_only_ones_lose_changes(app_session):
    table = f"probe_{uuid.uuid4().hex[:10]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} (id int PRIMARY KEY)")
    try:
        app_session.execute(f"INSERT INTO {table} VALUES (1)")
        app_session.execute(f"UPDATE {table} SET id = 2")  # a projection-like table: changeable
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION eventstore_refuse_change()"
            )
        assert table in append_only_tables()
        ensure_app_role()  # what deploy runs after every migrate
        assert "permission denied" in refused(app_session, f"DELETE FROM {table}")
        app_session.execute(f"INSERT INTO {table} VALUES (3)")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {table}")


def test_setup_refuses_to_make_the_owner_the_app_role():
    with pytest.raises(RoleSetupError, match="must not be the owner"):
        grant_app_role(connection.settings_dict["USER"] or "postgres")


def test_setup_is_rerunnable():
    first = ensure_app_role()
    again = ensure_app_role()
    assert not again.created
    assert again.append_only_tables == first.append_only_tables
    assert "eventstore_event" in again.append_only_tables


def test_the_command_prepares_the_role_and_names_what_stays_append_only():
    from io import StringIO

    from django.core.management import CommandError, call_command

    output = StringIO()
    call_command("setup_roles", "--app-role", app_role_name(), stdout=output)
    assert "append-only (SELECT, INSERT only): eventstore_event" in output.getvalue()
    with pytest.raises(CommandError, match="must not be the owner"):
        call_command("setup_roles", "--app-role", connection.settings_dict["USER"] or "postgres")
