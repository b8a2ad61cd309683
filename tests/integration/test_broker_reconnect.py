"""A worker's channel closed after kombu dropped its transport: no crash, and Redis keeps the message.

This is the state kombu's Redis transport is in when a worker loses its broker
while holding an unacknowledged (acks_late) message; without
platform_site.broker_reconnect it raised AttributeError and the worker hung.
"""

import uuid

import kombu
import pytest
import redis
from django.conf import settings

import platform_site.celery  # noqa: F401  (installs the fix, as every process does)


def test_closing_a_channel_whose_transport_is_gone_keeps_the_unacked_message_in_redis():
    queue_name = f"broker-reconnect-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    connection = kombu.Connection(
        settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS
    )
    tag = None
    try:
        channel = connection.default_channel
        queue = kombu.Queue(queue_name, channel=channel)
        queue.declare()
        connection.Producer().publish({"n": 1}, routing_key=queue_name, declare=[queue])
        message = queue.get(no_ack=False)
        assert message is not None  # delivered, not acknowledged
        tag = message.delivery_tag

        connection._do_close_transport()  # what kombu does first when the broker connection breaks
        connection.maybe_close_channel(channel)  # raised AttributeError ('hostname') before the fix

        assert channel.closed
        with pytest.raises(
            redis.ConnectionError
        ):  # any later call: a lost connection, handled by reconnecting
            channel._connparams()
        # Not restored in-process, not lost: kombu's visibility timeout puts it back.
        assert client.hexists(channel.unacked_key, tag)
    finally:
        if tag is not None:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
        client.delete(queue_name)
