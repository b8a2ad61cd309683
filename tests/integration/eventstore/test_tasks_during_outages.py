"""The event store's Celery tasks while Redis is down: one line per outage, not a traceback per task.

Tasks queued by commits (relay) and by kicks (consumers) can reach a worker
while the streams' Redis refuses (its broker may be another server, still
up). The sweep relays and kicks every partition again two seconds later, so
such a task ends quietly instead of failing with a traceback.
"""

import logging

import pytest
from django.test import override_settings

from eventstore import tasks
from eventstore.redis import get_redis
from tests.e2e.harness import free_port

pytestmark = pytest.mark.django_db(transaction=True)  # a task closes its connection after an outage


@pytest.fixture
def redis_refusing():
    get_redis.cache_clear()
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):  # nothing listens there
        yield
    get_redis.cache_clear()


@pytest.mark.parametrize(
    ("task", "args", "name"),
    [(tasks.relay_events, (), "relay task"), (tasks.consume_partition, (0,), "consumer task")],
    ids=["relay", "consumer"],
)
def test_a_task_run_while_redis_refuses_ends_quietly_and_the_outage_is_named_once(
    redis_refusing, caplog, task, args, name
):
    caplog.set_level(logging.DEBUG, logger="eventstore.outage")
    for _ in range(3):
        assert task(*args) is None  # raised nothing: no failed task, no traceback
    lines = [r for r in caplog.records if r.name == "eventstore.outage" and r.levelno >= logging.ERROR]
    # One ERROR for the outage (none if an earlier test's outage is still open in this process).
    assert len(lines) <= 1
    assert all(r.getMessage().startswith(f"{name}: Redis unavailable") and not r.exc_info for r in lines)
    retries = [r for r in caplog.records if r.name == "eventstore.outage" and r.levelno == logging.DEBUG]
    assert len(retries) + len(lines) == 3
