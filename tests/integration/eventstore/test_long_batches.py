"""Long batches through publish_many: one statement, whole or nothing, like a short one.

Transactional: the first statement's BEGIN is part of what is tested, and the
concurrency test needs transactions that commit.
"""

import threading
import time
import uuid

import pytest
from django.db import IntegrityError, connection, transaction

from eventstore.bus import publish, publish_many
from eventstore.commands import atomic_command
from eventstore.context import event_context
from eventstore.envelope import ExpectedVersion
from eventstore.errors import ConcurrencyConflict, InvalidEventData
from eventstore.reading import read_stream
from tests.conftest import protocol_messages_sent
from tests.integration.eventstore.test_concurrency import run_threads
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db(transaction=True)
LONG = 82  # the bench's batches are 100; any length goes as one statement


def stream() -> str:
    return f"thing-{uuid.uuid4()}"


def batch(count: int = LONG, label: str = "b") -> list[tuple]:
    return [(THING_HAPPENED, {"label": f"{label}{n}", "size": n}) for n in range(count)]


def wait_until_another_session_waits_on_a_lock(timeout: float = 30.0) -> bool:
    """Poll pg_stat_activity (from inside the caller's transaction) for a session of this database blocked on a lock."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # the view is cached per transaction otherwise
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.01)
    return False


def labels(stream_id: str) -> list[str]:
    return [e.data["label"] for e in read_stream(stream_id)]


def test_a_long_batch_lands_whole_in_one_statement_with_consecutive_versions_and_positions():
    stream_id = stream()
    recorded = []

    def append() -> None:
        with transaction.atomic():
            recorded.extend(publish_many(stream_id, batch(), expected_version=ExpectedVersion.NO_STREAM))

    append()
    stored = read_stream(stream_id)
    assert [e.stream_version for e in stored] == list(range(1, LONG + 1))
    assert [e.position for e in stored] == sorted(e.position for e in stored)
    assert stored[-1].position - stored[0].position == LONG - 1  # one transaction, no gaps
    assert recorded == stored
    assert len({e.id for e in stored}) == LONG


@pytest.mark.performance_guard
def test_a_long_batch_goes_with_begin_in_one_round_trip_as_one_statement():
    def append() -> None:
        with transaction.atomic():
            publish_many(stream(), batch(), expected_version=ExpectedVersion.NO_STREAM)

    connection.close()  # a new connection: nothing prepared on it yet
    sent = protocol_messages_sent(append)
    # BEGIN and the append in one round trip (COMMIT goes as a simple query) ...
    assert sent.count("Execute") == 2
    # ... the append prepared as it first runs.
    assert sent.count("Parse") == 2


def test_an_invalid_event_midway_stores_nothing_and_leaves_the_transaction_usable():
    stream_id = stream()
    bad = batch()
    bad[LONG - 3] = (THING_HAPPENED, {"no_such_field": 1})  # after most of the batch was checked
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "before"})
        with pytest.raises(InvalidEventData):
            publish_many(stream_id, bad)
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "after"})
    assert labels(stream_id) == ["before", "after"]
    assert [e.stream_version for e in read_stream(stream_id)] == [1, 2]


def test_a_stale_expected_version_stores_none_of_a_long_batch():
    stream_id = stream()
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "first"})
    with pytest.raises(ConcurrencyConflict), transaction.atomic():
        publish_many(stream_id, batch(), expected_version=ExpectedVersion.NO_STREAM)
    assert labels(stream_id) == ["first"]


def test_any_version_appends_behind_what_the_stream_holds_even_later_in_a_transaction():
    stream_id = stream()
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "first"})
    with transaction.atomic():
        other = publish(THING_HAPPENED, stream_id=stream(), data={"label": "opens the transaction"})
        appended = publish_many(stream_id, batch())
    assert [e.stream_version for e in appended] == list(range(2, LONG + 2))
    assert appended[0].position == other.position + 1
    assert labels(stream_id) == ["first", *[f"b{n}" for n in range(LONG)]]


def test_an_exact_expected_version_continues_the_stream():
    stream_id = stream()
    with transaction.atomic():
        publish_many(stream_id, batch(3, "a"))
    with transaction.atomic():
        publish_many(stream_id, batch(), expected_version=3)
    assert [e.stream_version for e in read_stream(stream_id)] == list(range(1, LONG + 4))


def test_a_long_batch_shares_one_correlation_id_and_the_contexts_metadata():
    with event_context(metadata={"path": "/import/"}) as correlation, transaction.atomic():
        appended = publish_many(stream(), batch())
    assert {e.correlation_id for e in appended} == {correlation}
    assert {e.metadata["path"] for e in appended} == {"/import/"}


def test_a_long_batch_with_personal_metadata_is_sealed_at_rest():
    stream_id = stream()
    with event_context(metadata={"ip": "203.0.113.9"}), transaction.atomic():
        appended = publish_many(stream_id, batch())
    assert {e.metadata["ip"] for e in appended} == {"203.0.113.9"}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT metadata->'ip' ? '$pii' FROM eventstore_event WHERE stream_id = %s", [stream_id]
        )
        assert {sealed for (sealed,) in cursor.fetchall()} == {True}
    assert {e.metadata["ip"] for e in read_stream(stream_id)} == {"203.0.113.9"}


def test_a_batch_the_database_refuses_is_djangos_error():
    with pytest.raises(IntegrityError), transaction.atomic():
        publish_many("", batch())  # the table's CHECK refuses an empty stream id
    # The connection is fine afterwards (the atomic block rolled the transaction back).
    with transaction.atomic():
        assert len(publish_many(stream(), batch())) == LONG


def test_of_two_long_batches_starting_the_same_stream_exactly_one_lands_whole():
    stream_id = stream()
    both_ready = threading.Barrier(2)

    def writer(index: int) -> str:
        both_ready.wait(30)
        try:
            with transaction.atomic():
                publish_many(stream_id, batch(label=f"w{index}-"), expected_version=ExpectedVersion.NO_STREAM)
            return "won"
        except ConcurrencyConflict:
            return "conflict"

    assert sorted(run_threads(2, writer)) == ["conflict", "won"]
    stored = labels(stream_id)
    assert len(stored) == LONG
    assert len({label.split("-")[0] for label in stored}) == 1, "one writer's events, not a mix"


@pytest.mark.parametrize("count", [5, LONG], ids=["short batch", "long batch"])
def test_a_batch_that_races_another_writer_for_its_versions_keeps_nothing_and_reruns_whole(count):
    """The other writer holds version 1 uncommitted: the batch's version 1 clashes once it commits.

    ON CONFLICT skips that one row only, so part of the batch would land: the
    append says ConcurrencyConflict (even for ANY) and marks the transaction
    for rollback; a command that may rerun on a conflict then lands it whole.
    """
    stream_id = stream()
    holding = threading.Event()
    attempts = []

    @atomic_command(retry_conflicts=True)
    def append_batch() -> list:
        attempts.append(1)
        return publish_many(stream_id, batch(count))

    def other_writer(_index: int) -> None:
        with transaction.atomic():
            publish(THING_HAPPENED, stream_id=stream_id, data={"label": "other"})
            holding.set()
            # Commit only once the batch waits on this transaction's version 1.
            assert wait_until_another_session_waits_on_a_lock()

    def batch_writer(_index: int) -> list:
        holding.wait(30)
        return append_batch()

    _, appended = run_threads(2, lambda i: (other_writer, batch_writer)[i](i))
    assert len(attempts) == 2, "the first attempt clashed and kept nothing; the second landed"
    assert [e.stream_version for e in appended] == list(range(2, count + 2))
    assert labels(stream_id) == ["other", *[f"b{n}" for n in range(count)]]
