"""Appending: atomicity with state, optimistic concurrency, idempotency, validation."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from eventstore.bus import publish
from eventstore.envelope import ExpectedVersion
from eventstore.errors import (
    ConcurrencyConflict,
    EventIdConflict,
    InvalidEventData,
    NotInTransaction,
    UnknownEventType,
)
from eventstore.reading import read_stream
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db


def stream() -> str:
    return f"thing-{uuid.uuid4()}"


def test_state_change_and_event_roll_back_together():
    stream_id = stream()
    User = get_user_model()
    with pytest.raises(RuntimeError), transaction.atomic():
        User.objects.create_user(username="ghost", email="ghost@example.com", password="x")
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "ghost"})
        raise RuntimeError("the command failed after publishing")
    assert not User.objects.filter(username="ghost").exists()
    assert read_stream(stream_id) == []


def test_state_change_and_event_commit_together():
    stream_id = stream()
    User = get_user_model()
    with transaction.atomic():
        User.objects.create_user(username="real", email="real@example.com", password="x")
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "real"})
    assert User.objects.filter(username="real").exists()
    assert [e.data["label"] for e in read_stream(stream_id)] == ["real"]


@pytest.mark.django_db(transaction=True)
def test_publish_outside_a_transaction_is_refused():
    assert not connection.in_atomic_block
    stream_id = stream()
    with pytest.raises(NotInTransaction):
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "x"})
    assert read_stream(stream_id) == []


def test_versions_count_up_without_gaps():
    stream_id = stream()
    with transaction.atomic():
        first = publish(
            THING_HAPPENED,
            stream_id=stream_id,
            data={"label": "a"},
            expected_version=ExpectedVersion.NO_STREAM,
        )
        second = publish(THING_HAPPENED, stream_id=stream_id, data={"label": "b"}, expected_version=1)
        third = publish(THING_HAPPENED, stream_id=stream_id, data={"label": "c"})
    assert [first.stream_version, second.stream_version, third.stream_version] == [1, 2, 3]
    assert first.position < second.position < third.position


def test_stale_expected_version_is_a_conflict_and_stores_nothing():
    stream_id = stream()
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "a"})
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "b"})
    with pytest.raises(ConcurrencyConflict) as conflict, transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "stale"}, expected_version=1)
    assert conflict.value.actual_version == 2
    with pytest.raises(ConcurrencyConflict), transaction.atomic():
        publish(
            THING_HAPPENED,
            stream_id=stream_id,
            data={"label": "new"},
            expected_version=ExpectedVersion.NO_STREAM,
        )
    with pytest.raises(ConcurrencyConflict), transaction.atomic():
        # Expecting a version the stream has not reached must not create a gap.
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "ahead"}, expected_version=5)
    assert [e.stream_version for e in read_stream(stream_id)] == [1, 2]


def test_appending_a_stored_event_id_again_returns_the_stored_event():
    stream_id = stream()
    event_id = uuid.uuid4()
    with transaction.atomic():
        first = publish(THING_HAPPENED, stream_id=stream_id, data={"label": "once"}, event_id=event_id)
    with transaction.atomic():
        again = publish(
            THING_HAPPENED, stream_id=stream_id, data={"label": "once"}, event_id=event_id, expected_version=0
        )
    assert again.id == first.id
    assert again.position == first.position
    assert len(read_stream(stream_id)) == 1


def test_data_that_does_not_fit_the_schema_is_refused():
    stream_id = stream()
    with pytest.raises(InvalidEventData), transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "x", "password": "secret"})
    with pytest.raises(InvalidEventData), transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream_id, data={"size": 3})
    with pytest.raises(UnknownEventType), transaction.atomic():
        publish("test:never_defined", stream_id=stream_id, data={})
    assert read_stream(stream_id) == []


def test_publish_many_appends_consecutive_versions_in_one_go():
    from eventstore.bus import publish_many

    stream_id = stream()
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "first"})
        batch = publish_many(
            stream_id,
            [(THING_HAPPENED, {"label": f"b{n}", "size": n}) for n in range(5)],
            expected_version=1,
        )
    assert [e.stream_version for e in batch] == [2, 3, 4, 5, 6]
    assert [e.position for e in batch] == sorted(e.position for e in batch)
    assert [e.data["label"] for e in read_stream(stream_id)] == ["first", "b0", "b1", "b2", "b3", "b4"]


def test_publish_many_outside_any_context_is_one_unit_of_work_with_one_correlation_id():
    from eventstore.bus import publish_many
    from eventstore.context import event_context

    with transaction.atomic():
        batch = publish_many(stream(), [(THING_HAPPENED, {"label": f"b{n}"}) for n in range(3)])
        alone = publish(THING_HAPPENED, stream_id=stream(), data={"label": "alone"})
    assert len({e.correlation_id for e in batch}) == 1
    assert all(e.causation_id == e.correlation_id for e in batch)
    assert alone.correlation_id != batch[0].correlation_id
    with event_context() as correlation, transaction.atomic():
        inside = publish_many(stream(), [(THING_HAPPENED, {"label": "in"})] * 2)
    assert {e.correlation_id for e in inside} == {correlation}


def test_publish_many_with_a_stale_version_stores_none_of_the_batch():
    from eventstore.bus import publish_many

    stream_id = stream()
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "first"})
    with pytest.raises(ConcurrencyConflict), transaction.atomic():
        publish_many(
            stream_id,
            [(THING_HAPPENED, {"label": "x"}), (THING_HAPPENED, {"label": "y"})],
            expected_version=0,
        )
    with pytest.raises(InvalidEventData), transaction.atomic():
        publish_many(stream_id, [(THING_HAPPENED, {"label": "ok"}), (THING_HAPPENED, {"nope": 1})])
    assert [e.data["label"] for e in read_stream(stream_id)] == ["first"]


def test_a_batch_that_only_partly_lands_is_an_event_id_conflict_and_its_block_rolls_back():
    """Some ids stored before, some new: the new ones would land alone, so the block is marked for rollback."""
    from django.db.transaction import TransactionManagementError

    from eventstore import store
    from eventstore.envelope import NewEvent

    stream_id = stream()
    correlation = uuid.uuid4()
    first, second = (
        NewEvent(
            type=THING_HAPPENED.name,
            schema_version=2,
            data={"label": label, "size": 0},
            source="test",
            correlation_id=correlation,
        )
        for label in ("stored before", "new")
    )
    with transaction.atomic():
        store.append(stream_id, [first], ExpectedVersion.NO_STREAM)
    with transaction.atomic():
        with pytest.raises(EventIdConflict):
            store.append(stream_id, [first, second], ExpectedVersion.ANY)
        with pytest.raises(TransactionManagementError):
            publish(THING_HAPPENED, stream_id=stream_id, data={"label": "refused"})
    assert [e.data["label"] for e in read_stream(stream_id)] == ["stored before"]
