"""A worker that lost its broker: no crash, Redis keeps the message, and it tries again within seconds.

This is the state kombu's Redis transport is in when a worker loses its broker
while holding an unacknowledged (acks_late) message; without
platform_site.broker_reconnect it raised AttributeError and the worker hung.
"""

import logging
import re
import socket
import uuid
from types import SimpleNamespace

import kombu
import pytest
import redis
from celery.utils.imports import symbol_by_name
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


def test_a_worker_tries_a_lost_broker_again_after_half_a_second_then_a_step_more_up_to_the_setting(settings):
    """Celery's own back-off (2, 4, 6 ... 30 s) had a worker reconnect 12 s after a 30 s Redis outage."""
    from platform_site.celery import app

    with socket.socket() as probe:  # a port nothing listens on: every attempt is refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.BROKER_RETRY_MAX_SECONDS = 1.0
    worker = SimpleNamespace(use_eventloop=False)  # what the consumer's bootsteps ask of their worker
    consumer = symbol_by_name(app.conf.worker_consumer)(
        on_task_request=None, app=app, hostname="probe", controller=worker
    )
    said = []

    class Recorder(logging.Filter):  # ahead of the once-a-minute filter, which folds these lines
        def filter(self, record):
            said.append(record.getMessage())
            return True

    retry_logger = logging.getLogger("celery.worker.consumer.consumer")
    recorder = Recorder()
    retry_logger.filters.insert(0, recorder)
    retries = app.conf.broker_connection_max_retries
    app.conf.broker_connection_max_retries = 3
    try:
        with pytest.raises(kombu.exceptions.OperationalError):
            consumer.ensure_connected(kombu.Connection(f"redis://127.0.0.1:{port}/0"))
    finally:
        app.conf.broker_connection_max_retries = retries
        retry_logger.removeFilter(recorder)
    # Celery words the half-second wait "now" (it rounds below a second); its own would be "in 2.00 seconds".
    waits = [
        found[1]
        for found in (re.search(r"Trying again (now|in [0-9.]+ seconds?)", line) for line in said)
        if found
    ]
    assert waits == ["now", "in 1.00 second", "in 1.00 second"], said


def test_the_worker_retries_the_broker_for_as_long_as_it_takes():
    """Celery's default stops after 100 attempts: 3 minutes of outage at these intervals."""
    from platform_site.celery import app

    assert app.conf.broker_connection_max_retries is None
