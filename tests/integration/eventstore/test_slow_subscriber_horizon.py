"""One slow subscriber does not hold the horizon for every follower (issue 18 item 3, guarantee 10).

A handler's transaction takes a transaction id at its first write; from then
on every follower waits for it. The consumer writes the checkpoint last, so a
handler that works long before it writes (a link scan) holds nothing meanwhile.
"""

import threading
import uuid

import pytest
from django.db import connection, transaction

from eventstore import streams
from eventstore.bus import publish
from eventstore.consumer import SubscriberPartitionReader
from eventstore.models import Checkpoint
from eventstore.reading import horizon, read_stream
from eventstore.redis import get_redis
from eventstore.relay import subscriber_checkpoint_name
from eventstore.subscribers import Subscriber
from tests.conftest import wait_until_followable
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_handler_working_before_it_writes_does_not_hold_back_events_committed_meanwhile():
    run = uuid.uuid4().hex[:8]
    working, release = threading.Event(), threading.Event()

    def slow_then_write(event) -> None:
        working.set()
        assert release.wait(30), "the test never let the handler finish"
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO eventstore_checkpoint (name, position, updated_at) VALUES (%s, 1, now())",
                [f"slow-effect:{event.id}"],
            )

    subscriber = Subscriber(name=f"slow-{run}", handlers={THING_HAPPENED.name: slow_then_write})
    with transaction.atomic():
        published = publish(THING_HAPPENED, stream_id=f"thing-{run}", data={"label": "slow"})
    (event,) = read_stream(published.stream_id)
    wait_until_followable(event.position)
    failures = []

    def consume_one() -> None:
        try:
            consumer = SubscriberPartitionReader(
                subscriber, streams.partition_of(event.stream_id), get_redis()
            )
            consumer._process(event)
        except Exception as exc:  # reported to the test below
            failures.append(exc)
        finally:
            working.set()
            connection.close()

    consumer_thread = threading.Thread(target=consume_one)
    consumer_thread.start()
    try:
        assert working.wait(30)
        with transaction.atomic():
            later = publish(THING_HAPPENED, stream_id=f"thing-{run}-other", data={"label": "meanwhile"})
        # Followable at once, while the handler is still at work.
        assert horizon() > later.position
    finally:
        release.set()
        consumer_thread.join(30)
    assert not failures
    checkpoint = Checkpoint.objects.get(
        name=subscriber_checkpoint_name(subscriber.name, streams.partition_of(event.stream_id))
    )
    assert checkpoint.position == event.position
    assert Checkpoint.objects.filter(name=f"slow-effect:{event.id}").count() == 1
