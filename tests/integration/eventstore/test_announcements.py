"""`events_committed`: once per committed transaction, with the events it committed.

Transactional tests: what matters is what Django does at a real commit and
rollback (it gives the connection a new list of on_commit callbacks each time).
"""

import uuid

import pytest
from django.db import transaction

from eventstore.bus import events_committed, publish
from eventstore.reading import read_stream
from eventstore.redis import get_redis
from eventstore.wakeups import relay_dirty_key
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def announced():
    """The ids of each announcement's events, in order."""
    seen: list[list[uuid.UUID]] = []

    def record(sender, *, events, **_kwargs):
        seen.append([e.id for e in events])

    events_committed.connect(record, dispatch_uid="test.announcements")
    yield seen
    events_committed.disconnect(dispatch_uid="test.announcements")


def one(label: str):
    return publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4()}", data={"label": label})


def test_a_transaction_is_announced_once_with_all_its_events(announced):
    with transaction.atomic():
        a, b = one("a"), one("b")
    with transaction.atomic():
        c = one("c")
    assert announced == [[a.id, b.id], [c.id]]


def test_after_a_rollback_the_next_transaction_is_announced_with_its_own_events(announced):
    with pytest.raises(RuntimeError), transaction.atomic():
        one("rolled back")
        raise RuntimeError("the command failed")
    assert announced == []
    with transaction.atomic():
        kept = one("kept")
    assert announced == [[kept.id]]


def test_events_published_after_a_savepoint_rollback_are_announced(announced):
    with transaction.atomic():
        before = one("before")
        with pytest.raises(RuntimeError), transaction.atomic():
            one("inside, rolled back")
            raise RuntimeError("the inner step failed")
        after = one("after")
    assert announced, "the commit was announced"
    ids = {event_id for announcement in announced for event_id in announcement}
    assert {before.id, after.id} <= ids


def test_a_failing_receiver_changes_nothing_the_commit_and_the_relays_wake_up_stand():
    def fail(sender, **_kwargs):
        raise RuntimeError("a receiver outside the event store failed")

    redis = get_redis()
    redis.delete(relay_dirty_key())
    events_committed.connect(fail, dispatch_uid="test.failing_receiver")
    try:
        with transaction.atomic():
            kept = one("kept")
    finally:
        events_committed.disconnect(dispatch_uid="test.failing_receiver")
    assert [e.id for e in read_stream(kept.stream_id)] == [kept.id]
    assert redis.exists(relay_dirty_key()), "the relay was not woken (no stream runner here: the dirty mark)"
