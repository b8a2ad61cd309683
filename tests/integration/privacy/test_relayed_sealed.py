"""Events travel through Redis sealed: personal values are opened by the consumer, not the relay."""

import uuid

import pytest
from django.db import connection, transaction

from eventstore import privacy, streams
from eventstore.bus import publish
from eventstore.consumer import drain_subscriber_partition
from eventstore.context import event_context
from eventstore.reading import reveal_event
from eventstore.redis import get_redis
from eventstore.relay import relay_pending
from tests.conftest import start_at_head, wait_until_followable
from tests.sample_events import THING_HAPPENED
from tests.testapp.handlers import effect_count

pytestmark = pytest.mark.django_db(transaction=True)


def test_redis_holds_sealed_values_and_a_forgotten_key_is_honoured_by_consumers():
    get_redis().flushdb()
    start_at_head()  # earlier tests' events stay in the log; handling them again is not this test
    stream_id = f"thing-{uuid.uuid4().hex[:8]}"
    ip = f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"
    with transaction.atomic(), event_context(metadata={"ip": ip, "user_agent": f"UA {stream_id}"}):
        event = publish(THING_HAPPENED, stream_id=stream_id, data={"label": "ok"})
    assert event.metadata["ip"] == ip
    wait_until_followable(event.position)
    relay_pending()

    key = streams.partition_key(streams.partition_of(stream_id))
    [payload] = [f[b"event"] for _id, f in get_redis().xrange(key) if int(f[b"position"]) == event.position]
    assert ip.encode() not in payload and b"$pii" in payload
    assert reveal_event(streams.decode(payload)).metadata["ip"] == ip
    for partition in range(streams.partition_count()):
        drain_subscriber_partition("test-recorder", partition)
    assert effect_count(event.id) == 1

    with transaction.atomic():
        privacy.forget_subject(stream_id)  # the data subject of a stream without a user
    assert reveal_event(streams.decode(payload)).metadata["ip"] == privacy.ERASED
    with connection.cursor() as cursor:
        cursor.execute("SELECT metadata::text FROM eventstore_event WHERE id = %s", [event.id])
        assert ip not in cursor.fetchone()[0]
