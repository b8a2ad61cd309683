"""Guarantee 6 without Celery: relay to real Redis Streams, subscribers consume once, in order."""

import threading
import uuid

import pytest
from django.db import connection, transaction

from eventstore import streams
from eventstore.bus import publish
from eventstore.consumer import drain_subscriber_partition
from eventstore.models import Checkpoint, ParkedEvent
from eventstore.parking import parked_event_retry
from eventstore.redis import get_redis
from eventstore.relay import relay_pending
from tests.conftest import start_at_head, wait_until_followable
from tests.sample_events import THING_HAPPENED
from tests.testapp.handlers import effect_count

pytestmark = pytest.mark.django_db(transaction=True)
SUBSCRIBER = "test-recorder"


@pytest.fixture(autouse=True)
def fresh_redis():
    """The test Redis database starts empty: the relay must cope with exactly that.

    The relay and the subscribers start at the log's head: earlier tests' events
    stay in the log while their effects were flushed, and handling them all
    again would only make every test here slower.
    """
    get_redis().flushdb()
    start_at_head()
    yield


def write_events(streams_count: int = 4, per_stream: int = 5, label: str = "ok") -> list:
    events = []
    run = uuid.uuid4().hex[:8]
    for n in range(per_stream):
        for s in range(streams_count):
            with transaction.atomic():
                events.append(
                    publish(THING_HAPPENED, stream_id=f"thing-{run}-{s}", data={"label": f"{label}-{n}"})
                )
    return events


def relay_all() -> None:
    """Relay everything committed so far (waiting for the horizon to pass it)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(position) FROM eventstore_event")
        wait_until_followable(cursor.fetchone()[0])
    relay_pending()


def consume_all() -> None:
    for partition in range(streams.partition_count()):
        drain_subscriber_partition(SUBSCRIBER, partition)


def test_every_event_reaches_the_subscriber_once_and_redelivery_has_no_second_effect():
    events = write_events()
    relay_all()
    consume_all()
    assert [effect_count(e.id) for e in events] == [1] * len(events)
    # Make Redis deliver everything again: reset each group to the start of its stream.
    redis = get_redis()
    for partition in range(streams.partition_count()):
        redis.xgroup_setid(streams.partition_key(partition), streams.group_name(SUBSCRIBER), id="0")
    consume_all()
    assert [effect_count(e.id) for e in events] == [1] * len(events)


def test_a_redis_flush_loses_nothing():
    relayed_before = write_events()
    relay_all()
    get_redis().flushdb()  # the streams, the groups and the epoch are gone before anyone consumed
    relayed_after = write_events()
    relay_all()
    consume_all()
    assert [effect_count(e.id) for e in relayed_before + relayed_after] == [1] * 40


def test_entries_trimmed_from_redis_are_read_back_from_postgres():
    events = write_events(streams_count=2, per_stream=3)
    relay_all()
    redis = get_redis()
    for partition in range(streams.partition_count()):
        redis.xtrim(streams.partition_key(partition), maxlen=0)  # as if MAXLEN cut them
    more = write_events(streams_count=2, per_stream=1)
    relay_all()
    consume_all()
    assert [effect_count(e.id) for e in events + more] == [1] * 8


def test_two_relays_at_once_neither_skip_nor_reorder():
    events = []
    lock = threading.Lock()

    def writer_and_relay(index: int) -> None:
        try:
            for batch in range(5):
                mine = write_events(streams_count=2, per_stream=2, label=f"r{index}b{batch}")
                with lock:
                    events.extend(mine)
                relay_pending()
        finally:
            connection.close()

    threads = [threading.Thread(target=writer_and_relay, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    relay_all()
    consume_all()  # the recorder refuses any stream version that arrives before its predecessor
    # (Only this test's events: the log also holds earlier tests' events, some made to fail.)
    assert not ParkedEvent.objects.filter(event_id__in=[e.id for e in events]).exists()
    assert [effect_count(e.id) for e in events] == [1] * len(events)


def test_a_failing_event_is_parked_its_stream_waits_and_a_retry_completes_it():
    run = uuid.uuid4().hex[:8]
    with transaction.atomic():
        bad = publish(THING_HAPPENED, stream_id=f"thing-{run}-bad", data={"label": "explode"})
    with transaction.atomic():
        behind = publish(THING_HAPPENED, stream_id=f"thing-{run}-bad", data={"label": "after"})
    with transaction.atomic():
        other = publish(THING_HAPPENED, stream_id=f"thing-{run}-other", data={"label": "fine"})
    relay_all()
    consume_all()
    parked = ParkedEvent.objects.get(subscriber=SUBSCRIBER, event_id=bad.id)
    assert "Exploded" in parked.error and parked.attempts >= 2
    assert ParkedEvent.objects.filter(subscriber=SUBSCRIBER, event_id=behind.id).exists()
    assert effect_count(other.id) == 1, "other streams go on"
    assert effect_count(bad.id) == effect_count(behind.id) == 0

    assert parked_event_retry(parked_id=parked.pk) is False  # still failing: stays parked
    Checkpoint.objects.create(name="allow:explode")
    try:
        assert parked_event_retry(parked_id=parked.pk) is True
    finally:
        Checkpoint.objects.filter(name="allow:explode").delete()
    assert effect_count(bad.id) == effect_count(behind.id) == 1
    assert not ParkedEvent.objects.filter(
        subscriber=SUBSCRIBER, stream_id=bad.stream_id, resolved_at__isnull=True
    ).exists()


def test_a_consumer_whose_database_session_changed_stops_without_parking_or_skipping():
    from eventstore.consumer import LockLost, SubscriberPartitionReader
    from eventstore.reading import read_stream
    from eventstore.subscribers import get_subscriber

    run = uuid.uuid4().hex[:8]
    with transaction.atomic():
        event = publish(THING_HAPPENED, stream_id=f"thing-{run}", data={"label": "after-reconnect"})
    (event,) = read_stream(event.stream_id)
    consumer = SubscriberPartitionReader(
        get_subscriber(SUBSCRIBER),
        streams.partition_of(event.stream_id),
        get_redis(),
    )
    connection.close()  # the session holding the partition's lock is gone (Django reconnects lazily)
    connection.ensure_connection()
    with pytest.raises(LockLost):
        consumer._process(event)
    assert effect_count(event.id) == 0
    assert not ParkedEvent.objects.filter(event_id=event.id).exists()


def test_a_held_relay_leads_until_its_session_ends_then_a_worker_takes_over():
    from eventstore.relay import StreamRunnerRelay, relay_batch

    def worker_batch() -> int:
        """relay_batch() in a thread of its own: another process's session, as a Celery worker has."""
        result = []
        thread = threading.Thread(target=lambda: (result.append(relay_batch().sent), connection.close()))
        thread.start()
        thread.join(30)
        return result[0]

    held = StreamRunnerRelay()
    while held.batch().sent:  # leads now (nothing is left to send)
        pass
    events = write_events(streams_count=2, per_stream=2)
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(position) FROM eventstore_event")
        wait_until_followable(cursor.fetchone()[0])
    assert worker_batch() == 0, "the held relay leads: a worker's batch does nothing"
    assert held.batch().sent == len(events)
    more = write_events(streams_count=1, per_stream=2)
    connection.close()  # the held relay's session ends (a crash or a kill does the same)
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(position) FROM eventstore_event")
        wait_until_followable(cursor.fetchone()[0])
    assert worker_batch() == len(more)
    consume_all()
    assert [effect_count(e.id) for e in events + more] == [1] * 6


def test_a_held_consumer_stores_its_checkpoint_past_unhandled_events_at_its_next_thorough_run():
    """Woken runs skip events without a handler in memory; the full check (the poll) stores it."""
    from eventstore.consumer import StreamRunnerSubscriber
    from eventstore.relay import subscriber_checkpoint_name

    other = "community"  # a subscriber with no handler for the test type
    events = write_events(streams_count=1, per_stream=3)
    partition = streams.partition_of(events[0].stream_id)
    name = subscriber_checkpoint_name(other, partition)
    before = Checkpoint.objects.get(name=name).position
    held = StreamRunnerSubscriber(other, partition, get_redis())
    try:
        held.run(full_check=True)  # takes the lock
        relay_all()
        held.run(full_check=False)  # woken by the relay
        assert held.consumer.checkpoint == events[-1].position
        assert Checkpoint.objects.get(name=name).position == before
        held.run(full_check=True)
        assert Checkpoint.objects.get(name=name).position == events[-1].position
    finally:
        connection.close()  # drops the session's partition lock


def test_a_group_of_events_reaches_a_subscribers_batch_handler_in_one_call(monkeypatch):
    """The event counts (an async projection) take a group in one statement, with the same counts."""
    import dataclasses

    from django.db.models import Sum

    from eventstore import subscribers
    from eventstore.models import EventStat
    from eventstore.statistics import count_events

    name = "eventstore.event_stats"
    batches = []

    def counting(events):
        batches.append([e.position for e in events])
        count_events(events)

    replaced = dataclasses.replace(subscribers.get_subscriber(name), batch_handler=counting)
    monkeypatch.setitem(subscribers._subscribers, name, replaced)

    def counted() -> int:
        return EventStat.objects.filter(type=THING_HAPPENED.name).aggregate(n=Sum("count"))["n"] or 0

    before = counted()
    events = write_events(streams_count=1, per_stream=5)  # one stream, so one partition
    relay_all()
    drain_subscriber_partition(name, streams.partition_of(events[0].stream_id))
    assert batches == [[e.position for e in events]]
    assert counted() == before + 5


def test_a_subscriber_passes_over_entries_it_has_no_handler_for_without_decoding_them(monkeypatch):
    from eventstore.relay import subscriber_checkpoint_name

    events = write_events(streams_count=1, per_stream=3)
    partition = streams.partition_of(events[0].stream_id)
    relay_all()
    decoded = []
    real_decode = streams.decode
    monkeypatch.setattr(streams, "decode", lambda payload: decoded.append(payload) or real_decode(payload))
    drain_subscriber_partition("community", partition)  # no handler for the test type
    assert decoded == []
    assert Checkpoint.objects.get(name=subscriber_checkpoint_name("community", partition)).position == (
        events[-1].position
    )
    drain_subscriber_partition(SUBSCRIBER, partition)
    assert len(decoded) == 3
    assert [effect_count(e.id) for e in events] == [1, 1, 1]


def test_a_subscriber_that_reads_no_data_gets_events_without_opening_or_upcasting_them(monkeypatch):
    """The event counts read only the envelope (`reads_data=False`): no key lookups, no upcasts for them."""
    from eventstore.consumer import partition as consumer_partition

    events = write_events(streams_count=1, per_stream=3)
    partition = streams.partition_of(events[0].stream_id)
    relay_all()
    revealed = []
    real_reveal = consumer_partition.reveal_event
    monkeypatch.setattr(
        consumer_partition,
        "reveal_event",
        lambda event, keyring=None: revealed.append(event.id) or real_reveal(event, keyring),
    )
    drain_subscriber_partition("eventstore.event_stats", partition)
    assert revealed == []
    drain_subscriber_partition(SUBSCRIBER, partition)
    assert revealed == [e.id for e in events]


def test_a_held_partition_reads_for_all_its_subscribers_together_and_acknowledges_what_they_handled(
    monkeypatch,
):
    from eventstore.consumer import StreamRunnerPartition
    from eventstore.relay import subscriber_checkpoint_name

    # The skipped checkpoint is stored by the thorough run below, not by the clock.
    monkeypatch.setattr("eventstore.consumer.partition.SKIPPED_SAVE_SECONDS", 3600.0)
    events = write_events(streams_count=1, per_stream=3)
    partition = streams.partition_of(events[0].stream_id)
    names = ["community", "eventstore.event_stats", SUBSCRIBER]
    held = StreamRunnerPartition(partition, names, get_redis())
    try:
        held.run(full_check=True)  # each subscriber takes its lock
        relay_all()
        assert held.run(full_check=False) is False  # woken: one pipeline of reads, nothing left over
        assert [effect_count(e.id) for e in events] == [1, 1, 1]
        redis = get_redis()
        # A short read ends the run: what it handled is acknowledged with the next read.
        for name in names:
            assert redis.xpending(streams.partition_key(partition), streams.group_name(name))["pending"] == 3
        assert held.run(full_check=False) is False
        pending = {
            name: redis.xpending(streams.partition_key(partition), streams.group_name(name))["pending"]
            for name in names
        }
        # "community" has no handler for these events: it passed over them in memory, and keeps them
        # pending until the checkpoint past them is stored (a successor would see a gap otherwise).
        assert pending == {"community": 3, "eventstore.event_stats": 0, SUBSCRIBER: 0}
        assert Checkpoint.objects.get(name=subscriber_checkpoint_name(SUBSCRIBER, partition)).position == (
            events[-1].position
        )
        held.run(full_check=True)  # stores community's checkpoint, then acknowledges
        assert (
            redis.xpending(streams.partition_key(partition), streams.group_name("community"))["pending"] == 0
        )
        assert Checkpoint.objects.get(name=subscriber_checkpoint_name("community", partition)).position == (
            events[-1].position
        )
    finally:
        connection.close()  # drops the session's partition locks


def test_entries_a_woken_run_left_unacknowledged_are_neither_lost_nor_handled_again_by_the_next_consumer():
    from eventstore.consumer import StreamRunnerPartition
    from eventstore.relay import subscriber_checkpoint_name

    events = write_events(streams_count=1, per_stream=3)
    partition = streams.partition_of(events[0].stream_id)
    key, group = streams.partition_key(partition), streams.group_name(SUBSCRIBER)
    held = StreamRunnerPartition(partition, [SUBSCRIBER], get_redis())
    held.run(full_check=True)
    relay_all()
    held.run(full_check=False)
    assert get_redis().xpending(key, group)["pending"] == 3  # handled, their acknowledgement not sent yet
    connection.close()  # the consumer is gone (its locks with its session) before its next read
    drain_subscriber_partition(SUBSCRIBER, partition)  # the next consumer reads the pending entries first
    assert [effect_count(e.id) for e in events] == [1, 1, 1]
    assert get_redis().xpending(key, group)["pending"] == 0
    assert Checkpoint.objects.get(name=subscriber_checkpoint_name(SUBSCRIBER, partition)).position == (
        events[-1].position
    )
