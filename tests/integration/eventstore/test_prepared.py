"""eventstore.prepared: hot statements on Django's connection, with Django's error handling."""

import psycopg
import pytest
from django.db import OperationalError, connection, transaction

from eventstore import prepared
from eventstore.bus import publish
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_prepared_statement_runs_in_the_callers_transaction():
    with transaction.atomic():
        event = publish(THING_HAPPENED, stream_id="thing-prepared-tx", data={"label": "in"})
        seen = prepared.fetchone(b"SELECT count(*) FROM eventstore_event WHERE id = %s::uuid", [event.id])
        assert seen == (1,)
        transaction.set_rollback(True)
    assert prepared.fetchone(b"SELECT count(*) FROM eventstore_event WHERE id = %s::uuid", [event.id]) == (0,)


def test_a_lost_connection_is_djangos_operational_error_and_the_next_call_reconnects():
    """The stream runner's loops recover from Django's DatabaseError; a raw psycopg error would not be."""
    prepared.fetchone(b"SELECT 1")
    backend = connection.connection.info.backend_pid
    with psycopg.connect(connection.connection.info.dsn, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [backend])
    with pytest.raises(OperationalError):
        prepared.fetchone(b"SELECT 1")
    connection.close()  # what the runner does after an error
    assert prepared.fetchone(b"SELECT 1") == (1,)
    assert connection.connection.info.backend_pid != backend


def test_timestamps_from_a_prepared_statement_are_the_aware_utc_values_django_reads():
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        (django_now,) = cursor.fetchone()
        (prepared_now,) = prepared.fetchone(b"SELECT now()")
    assert prepared_now == django_now
    assert prepared_now.utcoffset().total_seconds() == 0
