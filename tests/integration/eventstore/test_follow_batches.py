"""follow(): data keys reused across batches, a forget honoured mid-follow, the collector left as found."""

import gc
import random
import uuid

import pytest
from django.db import connection, transaction

from eventstore import privacy, store
from eventstore.envelope import ExpectedVersion, NewEvent
from eventstore.privacy import crypto
from eventstore.reading import follow, read_stream
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db
IP = "10.1.2.3"


def append_sealed(count: int) -> tuple[str, int, list]:
    """`count` events of one new stream whose metadata ip is sealed with one user's key."""
    stream_id, actor = f"thing-{uuid.uuid4()}", random.randrange(10**9, 2 * 10**9)
    keyring = privacy.KeyRing()
    events = [
        privacy.seal_event(
            stream_id,
            NewEvent(
                type=THING_HAPPENED.name,
                schema_version=THING_HAPPENED.version,
                data={"label": f"thing {n}", "size": n},
                source="test",
                correlation_id=uuid.uuid4(),
                metadata={"ip": IP, "actor_id": actor},
            ),
            keyring,
        )
        for n in range(count)
    ]
    with transaction.atomic():
        stored = store.append(stream_id, events, ExpectedVersion.NO_STREAM)
    return stream_id, actor, stored


def follow_stream(stream_id: str, after: int):
    # The test's own transaction is still running, so its events lie above the horizon.
    for batch in follow(after=after, batch_size=1, types=[THING_HAPPENED.name], below_horizon=False):
        yield [e for e in batch if e.stream_id == stream_id]


def test_a_follower_unwraps_a_subject_s_key_once_for_all_its_batches(monkeypatch):
    stream_id, _actor, stored = append_sealed(3)
    unwrapped = []
    real_unwrap = crypto.unwrap
    monkeypatch.setattr(
        crypto, "unwrap", lambda subject, wrapped: unwrapped.append(subject) or real_unwrap(subject, wrapped)
    )

    events = [e for batch in follow_stream(stream_id, stored[0].position - 1) for e in batch]

    assert [e.metadata["ip"] for e in events] == [IP, IP, IP]
    assert len(unwrapped) == 1


def test_a_subject_forgotten_while_a_follower_runs_is_erased_from_its_next_batch():
    stream_id, actor, stored = append_sealed(3)
    batches = follow_stream(stream_id, stored[0].position - 1)
    [first] = next(batches)
    assert first.metadata["ip"] == IP

    privacy.forget_subject(privacy.user_subject(actor))

    rest = [e for batch in batches for e in batch]
    assert len(rest) == 2
    assert all(e.metadata["ip"] == privacy.ERASED for e in rest)


def test_following_leaves_the_garbage_collector_as_it_found_it():
    stream_id, _actor, stored = append_sealed(2)
    assert gc.isenabled()
    for _batch in follow_stream(stream_id, stored[0].position - 1):
        assert gc.isenabled()  # the caller's own work runs with the collector on
    assert gc.isenabled()

    gc.disable()
    try:
        for _batch in follow_stream(stream_id, stored[0].position - 1):
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_rebuild_leaves_the_garbage_collector_on_even_when_a_batch_fails():
    from eventstore.models import EventStat
    from eventstore.projections import Projection
    from eventstore.replay import rebuild_projection
    from eventstore.statistics import event_statistics

    append_sealed(2)
    rebuild_projection(event_statistics)
    assert gc.isenabled()

    def fail(events):
        raise RuntimeError("a batch handler failed")

    failing = Projection(
        name="test.failing",
        handlers={THING_HAPPENED.name: fail},
        models=[EventStat],  # emptied inside the test's transaction, which is rolled back
        batch_apply=fail,
    )
    with pytest.raises(RuntimeError):
        rebuild_projection(failing)
    assert gc.isenabled()


def test_envelopes_only_carry_the_envelope_and_their_own_empty_payloads():
    stream_id, _actor, stored = append_sealed(2)
    events = [
        e
        for batch in follow(
            after=stored[0].position - 1,
            types=[THING_HAPPENED.name],
            below_horizon=False,
            with_data=False,
        )
        for e in batch
        if e.stream_id == stream_id
    ]
    assert [(e.id, e.position, e.type, e.recorded_at) for e in events] == [
        (s.id, s.position, s.type, s.recorded_at) for s in stored
    ]
    assert all(e.data == {} and e.metadata == {} for e in events)
    assert events[0].data is not events[1].data  # no dict shared between events


def test_the_next_batch_is_fetched_while_the_last_one_is_decoded(monkeypatch):
    """The FETCH of batch n + 1 is in flight while batch n is decoded (prepared.read_ahead)."""
    from psycopg import pq

    from eventstore import reading

    stream_id, _actor, stored = append_sealed(3)
    statuses = []
    decode = reading._DecodedBatch

    def watched(rows):
        statuses.append(connection.connection.pgconn.transaction_status)
        return decode(rows)

    monkeypatch.setattr(reading, "_DecodedBatch", watched)
    events = [e for batch in follow_stream(stream_id, stored[0].position - 1) for e in batch]

    assert [e.id for e in events] == [s.id for s in stored]
    assert [e.metadata["ip"] for e in events] == [IP, IP, IP]
    assert statuses == [pq.TransactionStatus.ACTIVE] * 3  # full batches of one: a FETCH went ahead each time


def test_between_two_batches_the_connection_is_the_callers():
    stream_id, _actor, stored = append_sealed(3)
    seen = []
    for batch in follow_stream(stream_id, stored[0].position - 1):
        seen.extend(e.id for e in batch)
        # Nothing is in flight while the caller holds a batch: its own statements run.
        assert [e.id for e in read_stream(stream_id)] == [s.id for s in stored]
    assert seen == [s.id for s in stored]


def test_a_batch_that_fails_to_decode_leaves_the_transaction_usable(monkeypatch):
    from eventstore import reading

    stream_id, _actor, stored = append_sealed(3)

    def failing(rows):
        raise RuntimeError("cannot decode")

    with monkeypatch.context() as patched:
        patched.setattr(reading, "_DecodedBatch", failing)
        with pytest.raises(RuntimeError, match="cannot decode"):
            list(follow_stream(stream_id, stored[0].position - 1))

    # The FETCH sent ahead was read back and the cursor closed: the same name can be declared again.
    events = [e for batch in follow_stream(stream_id, stored[0].position - 1) for e in batch]
    assert [e.id for e in events] == [s.id for s in stored]


def test_a_follow_abandoned_after_one_batch_closes_its_cursor():
    stream_id, _actor, stored = append_sealed(3)
    batches = follow(
        after=stored[0].position - 1, batch_size=1, types=[THING_HAPPENED.name], below_horizon=False
    )
    assert [e.id for e in next(batches)] == [stored[0].id]
    batches.close()

    events = [e for batch in follow_stream(stream_id, stored[0].position - 1) for e in batch]
    assert [e.id for e in events] == [s.id for s in stored]
