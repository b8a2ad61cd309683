"""The online way to migration 0011 (eventstore/log_conversion.py): keys copied while appends go on.

A database of its own, migrated to 0010 (the unpartitioned log), is written by
the append of the code before 0011 (a plain INSERT of the event, its unique
keys on the log) while `prepare_partitioned_log` runs; then 0011 runs. Checked:
every event has its key, whenever it was written; 0011 refuses a key table
the command did not finish; the first partition ends at the prepared bound
(the attach used the validated check); after 0011, the old append still gets
its keys from the transition trigger and a clash is refused, the new append
passes through the trigger; `--finish` drops it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from eventstore.log_conversion import FIRST_RANGE_CHECK, KEY_FROM_LOG, KEYS_COMPLETE
from eventstore.store.statements import APPEND_NEW_STREAM

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[3]

# The append of the code before 0011 (its first event of a new stream), as running processes still send it.
OLD_APPEND = """
INSERT INTO eventstore_event (position, id, stream_id, stream_version, type, schema_version,
                              data, metadata, source, correlation_id, causation_id)
VALUES ((SELECT base FROM eventstore_position_base) + (pg_current_xact_id()::text::bigint << 20) + 1,
        %(id)s, %(stream_id)s, 1, 'test:thing_happened', 1, '{"label": "old"}', '{}', 'test', %(id)s, NULL)
ON CONFLICT DO NOTHING
RETURNING position
"""


@pytest.fixture
def old_log():
    """A database of this test's own at migration 0010; its connection parameters and a manage() for it."""
    settings = connection.settings_dict
    name = f"{settings['NAME']}_conversion"
    server = {"host": settings["HOST"] or "127.0.0.1", "port": settings["PORT"] or 5432, "user": "postgres"}
    with psycopg.connect(**server, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "platform_site.settings.test",
        "DATABASE_URL": f"postgres://postgres@{server['host']}:{server['port']}/{name}",
    }

    def manage(*arguments: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "manage.py", *arguments], cwd=ROOT, env=env, capture_output=True, text=True
        )
        if check:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    manage("migrate", "eventstore", "0010", "--no-input", "--verbosity", "0")
    yield {**server, "dbname": name}, manage
    with psycopg.connect(**server, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def old_append(conn: psycopg.Connection, stream_id: str, event_id: uuid.UUID | None = None) -> int:
    return len(conn.execute(OLD_APPEND, {"id": event_id or uuid.uuid4(), "stream_id": stream_id}).fetchall())


def events_without_key(conn: psycopg.Connection) -> int:
    return conn.execute(
        "SELECT count(*) FROM eventstore_event e WHERE NOT EXISTS (SELECT 1 FROM eventstore_event_key k "
        "WHERE k.id = e.id AND k.stream_id = e.stream_id AND k.stream_version = e.stream_version "
        "AND k.position = e.position)"
    ).fetchone()[0]


def test_prepared_conversion_keeps_every_key_while_the_old_code_appends(old_log):
    params, manage = old_log
    conn = psycopg.connect(**params, autocommit=True)  # no transaction left open to hold a migration back
    for n in range(300):
        old_append(conn, f"before-{n}")

    # A key table the command did not finish: 0011 refuses it and leaves the log as it was.
    conn.execute("CREATE TABLE eventstore_event_key (id uuid PRIMARY KEY)")
    refused = manage("migrate", "eventstore", "0011", "--no-input", check=False)
    assert refused.returncode != 0
    assert "prepare_partitioned_log has not finished" in refused.stderr
    assert (
        conn.execute("SELECT relkind FROM pg_class WHERE relname = 'eventstore_event'").fetchone()[0] == "r"
    )
    conn.execute("DROP TABLE eventstore_event_key")

    # The old code appends throughout the preparation, on a connection of its own.
    stop, written = threading.Event(), []

    def keep_appending() -> None:
        with psycopg.connect(**params, autocommit=True) as writer:
            while not stop.is_set():
                written.append(old_append(writer, f"during-{uuid.uuid4()}"))

    thread = threading.Thread(target=keep_appending)
    thread.start()
    try:
        out = manage("prepare_partitioned_log", "--batch", "40").stdout
    finally:
        stop.set()
        thread.join()
    assert "Prepared: " in out
    assert sum(written) > 0
    assert events_without_key(conn) == 0
    assert conn.execute("SELECT count(*) FROM eventstore_event_key").fetchone()[0] == 300 + sum(written)
    assert conn.execute("SELECT obj_description('eventstore_event_key'::regclass, 'pg_class')").fetchone()[
        0
    ] == (KEYS_COMPLETE)
    bound = conn.execute(
        "SELECT (regexp_match(pg_get_constraintdef(oid), '< \\(?''?(\\d+)'))[1]::bigint FROM pg_constraint "
        "WHERE conname = %s AND convalidated",
        [FIRST_RANGE_CHECK],
    ).fetchone()[0]

    manage("migrate", "eventstore", "0011", "--no-input", "--verbosity", "0")
    first = conn.execute(
        "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE c.relname = 'eventstore_event_first'"
    ).fetchone()[0]
    assert first in (f"FOR VALUES FROM (MINVALUE) TO ('{bound}')", f"FOR VALUES FROM (MINVALUE) TO ({bound})")
    assert (
        conn.execute("SELECT count(*) FROM pg_constraint WHERE conname = %s", [FIRST_RANGE_CHECK]).fetchone()[
            0
        ]
        == 0
    )

    # The old code, still running after 0011: its events get their keys, and a clash is refused.
    assert old_append(conn, "after-old") == 1
    taken = conn.execute("SELECT id FROM eventstore_event WHERE stream_id = 'after-old'").fetchone()[0]
    with pytest.raises(psycopg.errors.UniqueViolation):
        old_append(conn, "after-old-again", event_id=taken)
    with pytest.raises(psycopg.errors.UniqueViolation):
        old_append(conn, "after-old")  # version 1 of that stream is taken
    # The new code's append puts the key first; the trigger finds it is this event's own.
    event_id = uuid.uuid4()
    stored = conn.execute(
        APPEND_NEW_STREAM[1],
        {
            "id": event_id,
            "stream_id": "after-new",
            "type": "test:thing_happened",
            "schema_version": 1,
            "data": '{"label": "new"}',
            "metadata": "{}",
            "source": "test",
            "correlation_id": event_id,
            "causation_id": None,
        },
    ).fetchall()
    assert len(stored) == 1
    assert events_without_key(conn) == 0
    assert (
        conn.execute("SELECT count(*) FROM eventstore_event WHERE stream_id LIKE 'after-%'").fetchone()[0]
        == 2
    )

    assert "Dropped the transition trigger." in manage("prepare_partitioned_log", "--finish").stdout
    assert (
        conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname = %s", [KEY_FROM_LOG]).fetchone()[0] == 0
    )
    conn.close()


def test_prepare_is_refused_once_the_log_is_partitioned():
    with pytest.raises(CommandError, match="partitioned already"):
        call_command("prepare_partitioned_log")
