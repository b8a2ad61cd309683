"""Guarantee 2: the database itself refuses UPDATE, DELETE and TRUNCATE on the log."""

import subprocess
import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from eventstore.bus import publish
from eventstore.reading import read_stream
from tests.sample_events import THING_HAPPENED


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE eventstore_event SET data = '{}'::jsonb WHERE stream_id = %s",
        "DELETE FROM eventstore_event WHERE stream_id = %s",
        "TRUNCATE eventstore_event",
    ],
)
def test_raw_sql_cannot_change_or_remove_events(statement):
    stream_id = f"thing-{uuid.uuid4()}"
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "kept"})
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [stream_id] if "%s" in statement else [])
    assert [e.data["label"] for e in read_stream(stream_id)] == ["kept"]


@pytest.mark.django_db(transaction=True)
def test_psql_as_superuser_cannot_change_or_remove_events():
    stream_id = f"thing-{uuid.uuid4()}"
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "kept"})
    settings = connection.settings_dict
    for statement in (
        f"UPDATE eventstore_event SET type = 'x:y' WHERE stream_id = '{stream_id}'",
        f"DELETE FROM eventstore_event WHERE stream_id = '{stream_id}'",
        "TRUNCATE eventstore_event",
    ):
        result = subprocess.run(
            [
                "psql",
                "-h",
                settings["HOST"] or "127.0.0.1",
                "-p",
                str(settings["PORT"] or 5432),
                "-U",
                settings["USER"] or "postgres",
                "-d",
                settings["NAME"],
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                statement,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode != 0, statement
        assert "append-only" in result.stderr
    assert [e.data["label"] for e in read_stream(stream_id)] == ["kept"]
