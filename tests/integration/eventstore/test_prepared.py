"""eventstore.prepared: hot statements on Django's connection, with Django's error handling.

Transactional tests: much of the point is what happens when a statement is the
first of a real transaction (a TestCase's outer atomic block would have begun it).
"""

import uuid

import psycopg
import pytest
from django.db import DataError, IntegrityError, OperationalError, ProgrammingError, connection, transaction

from eventstore import prepared
from eventstore.bus import publish
from eventstore.envelope import ExpectedVersion
from eventstore.errors import ConcurrencyConflict
from eventstore.reading import read_stream
from tests.conftest import protocol_messages_sent
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db(transaction=True)

CURRENT_XID = b"SELECT pg_current_xact_id()::text::bigint, %(label)s::text"
DIVIDE = b"SELECT 1 / %(by)s::int"
NOW = b"SELECT now()"


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


def stream() -> str:
    return f"thing-{uuid.uuid4()}"


def test_an_append_that_begins_its_transaction_rolls_back_with_it():
    """BEGIN really went first: an append sent without it would have committed on its own."""
    stream_id = stream()
    with transaction.atomic():
        event = publish(THING_HAPPENED, stream_id=stream_id, data={"label": "undone"})
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT base + (pg_current_xact_id()::text::bigint << 20) FROM eventstore_position_base"
            )
            assert event.position == cursor.fetchone()[0] + 1  # this transaction's first position
        transaction.set_rollback(True)
    assert read_stream(stream_id) == []


@pytest.mark.performance_guard
def test_the_first_append_of_a_transaction_sends_begin_and_the_statement_in_one_round_trip():
    def append_in_a_transaction():
        with transaction.atomic():
            publish(THING_HAPPENED, stream_id=stream(), data={"label": "one trip"})

    append_in_a_transaction()  # prepared on this connection now
    sent = protocol_messages_sent(append_in_a_transaction)
    # BEGIN (Parse/Bind/Describe/Execute), the append (Bind/Describe/Execute), one Sync; then COMMIT.
    first_sync = sent.index("Sync")
    assert sent[:first_sync].count("Execute") == 2
    assert "Parse" in sent[:first_sync]  # BEGIN's, unnamed; the append is prepared already
    assert sent[first_sync + 1 :] == ["Query"]  # COMMIT, and nothing else


@pytest.mark.performance_guard
def test_an_append_later_in_the_transaction_sends_no_begin_and_takes_the_next_position():
    stream_id = stream()
    with transaction.atomic():
        first = publish(THING_HAPPENED, stream_id=stream_id, data={"label": "a"})
        sent = protocol_messages_sent(
            lambda: publish(THING_HAPPENED, stream_id=stream_id, data={"label": "b"})
        )
        second = read_stream(stream_id)[-1]
    assert sent.count("Execute") == 1 and sent.count("Sync") == 1
    assert second.position == first.position + 1
    assert second.stream_version == 2


def test_the_transaction_keeps_the_connections_isolation_level():
    psycopg_conn = (connection.ensure_connection(), connection.connection)[1]
    psycopg_conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    try:
        with transaction.atomic():
            prepared.fetchall(CURRENT_XID, {"label": "x"})
            with connection.cursor() as cursor:
                cursor.execute("SHOW transaction_isolation")
                assert cursor.fetchone()[0] == "repeatable read"
    finally:
        psycopg_conn.isolation_level = None


def test_parameters_and_results_round_trip_as_text_and_binary():
    with transaction.atomic():
        ((xid, label),) = prepared.fetchall(CURRENT_XID, {"label": "é ✓ 🎉"})
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()::text::bigint")
            assert cursor.fetchone()[0] == xid
    assert label == "é ✓ 🎉"


def test_an_error_is_djangos_and_the_transaction_is_refused_until_it_rolls_back():
    with pytest.raises(DataError), transaction.atomic():
        prepared.fetchall(DIVIDE, {"by": 0})
    # the failed execution left the statement prepared: using it again works
    with transaction.atomic():
        assert prepared.fetchall(DIVIDE, {"by": 1}) == [(1,)]


def test_a_new_stream_over_an_existing_one_is_a_conflict_opening_the_transaction_or_not():
    stream_id = stream()
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "first"})
    with pytest.raises(ConcurrencyConflict), transaction.atomic():  # the append opens it
        publish(
            THING_HAPPENED,
            stream_id=stream_id,
            data={"label": "x"},
            expected_version=ExpectedVersion.NO_STREAM,
        )
    with pytest.raises(ConcurrencyConflict), transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream(), data={"label": "opens"})
        publish(
            THING_HAPPENED,
            stream_id=stream_id,
            data={"label": "x"},
            expected_version=ExpectedVersion.NO_STREAM,
        )
    assert [e.data["label"] for e in read_stream(stream_id)] == ["first"]


def test_the_first_event_of_a_new_stream_opening_its_transaction_is_numbered_like_any_other():
    """That append is a plain INSERT (statements._FIRST_OF_NEW_STREAM): same position, version, idempotency."""
    stream_id = stream()
    event_id = uuid.uuid4()

    def publish_first():
        return publish(
            THING_HAPPENED,
            stream_id=stream_id,
            data={"label": "first"},
            event_id=event_id,
            expected_version=ExpectedVersion.NO_STREAM,
        )

    with transaction.atomic():  # the append opens the transaction
        first = publish_first()
        with connection.cursor() as cursor:
            # The transaction's first position: the stored base (migration 0006) plus its id, shifted.
            cursor.execute(
                "SELECT base + (pg_current_xact_id()::text::bigint << 20) FROM eventstore_position_base"
            )
            (tx_base,) = cursor.fetchone()
        second = publish(THING_HAPPENED, stream_id=stream_id, data={"label": "second"}, expected_version=1)
    assert (first.position, first.stream_version) == (tx_base + 1, 1)
    assert (second.position, second.stream_version) == (tx_base + 2, 2)
    with transaction.atomic():  # the same event again, opening its transaction: a no-op returning it
        again = publish_first()
    assert (again.id, again.position, again.stream_version) == (first.id, first.position, 1)
    assert [e.data["label"] for e in read_stream(stream_id)] == ["first", "second"]


def test_a_check_violation_is_an_integrity_error():
    with pytest.raises(IntegrityError), transaction.atomic():
        publish(THING_HAPPENED, stream_id="", data={"label": "no stream id"})


def test_a_statement_the_session_lost_is_prepared_again_on_the_next_call():
    prepared.fetchall(NOW)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # what a pooler's DISCARD ALL does
    with pytest.raises(ProgrammingError) as lost:
        prepared.fetchall(NOW)
    assert "does not exist" in str(lost.value)
    assert len(prepared.fetchall(NOW)) == 1


def test_nothing_is_left_in_pipeline_mode_for_django_afterwards():
    with pytest.raises(DataError), transaction.atomic():
        prepared.fetchall(DIVIDE, {"by": 0})
    assert connection.connection.pgconn.pipeline_status == psycopg.pq.PipelineStatus.OFF
    with connection.cursor() as cursor:
        cursor.execute("SELECT 41 + 1")
        assert cursor.fetchone() == (42,)


def prepared_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE name LIKE 'eventstore%%'")
        return {name for (name,) in cursor.fetchall()}


def test_a_rollback_does_not_take_the_event_stores_prepared_statements_with_it():
    """psycopg deallocates every statement of a session after a ROLLBACK once it prepared one itself."""
    stream_id = stream()
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "prepares"})
        prepared.fetchall(DIVIDE, {"by": 1})
    before = prepared_names()
    with pytest.raises(RuntimeError), transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "rolled back"})
        raise RuntimeError("the command failed")
    with transaction.atomic():
        prepared.fetchall(DIVIDE, {"by": 1})  # later in a transaction: no PREPARE sent with it
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "later in a transaction"})
    assert len(before) == 2 and before <= prepared_names()
    assert [e.data["label"] for e in read_stream(stream_id)] == ["prepares", "later in a transaction"]


def test_with_preparing_off_statements_run_unnamed_and_still_work():
    """DB_PREPARE_THRESHOLD=0 gives psycopg no threshold; the event store then prepares nothing."""
    connection.ensure_connection()
    psycopg_conn = connection.connection
    before = prepared_names()
    psycopg_conn.prepare_threshold = None
    try:
        stream_id = stream()
        with transaction.atomic():
            publish(THING_HAPPENED, stream_id=stream_id, data={"label": "unnamed"})
            publish(THING_HAPPENED, stream_id=stream_id, data={"label": "unnamed too"})
        assert prepared.fetchall(b"SELECT %s::int + 1", [41]) == [(42,)]
    finally:
        psycopg_conn.prepare_threshold = 5
    assert prepared_names() == before
    assert [e.data["label"] for e in read_stream(stream_id)] == ["unnamed", "unnamed too"]
