"""Wake-ups of the relay after commits: at once when alone, at most one per window under load.

No stream runner is alive here, so a wake-up marks the relay dirty in Redis and
queues a Celery relay task when the mark is new; no worker runs, so the tasks
stay in the queue to be counted.
"""

import time
import uuid

import pytest
from django.db import transaction

from eventstore import wakeups
from eventstore.bus import publish
from eventstore.redis import get_redis
from eventstore.wakeups import relay_dirty_key, relay_waker
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db(transaction=True)
CELERY_QUEUE = "celery"
WINDOW = 1.0


class StoppedClock:
    """The waker's clock, moved only by the test: how long a commit takes no longer matters."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def fresh_redis(monkeypatch):
    get_redis().flushdb()
    monkeypatch.setattr(wakeups, "COALESCE_SECONDS", WINDOW)


@pytest.fixture
def clock(monkeypatch):
    stopped = StoppedClock()
    relay_waker.reset()
    monkeypatch.setattr(relay_waker, "clock", stopped)
    yield stopped
    relay_waker.reset()  # the sender thread waits on the stopped clock: end it


def publish_one():
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4()}", data={"label": "wake"})


def wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_lone_commit_wakes_the_relay_at_once():
    publish_one()
    assert get_redis().exists(relay_dirty_key())
    assert get_redis().llen(CELERY_QUEUE) == 1


def test_commits_inside_the_window_make_no_redis_call_and_one_wake_up_follows_them(clock):
    redis = get_redis()
    publish_one()
    assert redis.llen(CELERY_QUEUE) == 1
    redis.delete(relay_dirty_key())  # the queued task has started: it clears the mark, then reads
    for _ in range(4):
        clock.advance(WINDOW / 10)
        publish_one()  # committed after that read began: they need a wake-up of their own
    time.sleep(0.2)  # time for a wrongly eager sender thread to act
    assert not redis.exists(relay_dirty_key()), "a commit inside the window called Redis"
    # When the window ends, one wake-up is sent for all four: a new mark, a new task.
    clock.advance(WINDOW)
    assert wait_for(lambda: redis.exists(relay_dirty_key()))
    # The mark comes first; the task is queued by the next call (Celery's publish).
    assert wait_for(lambda: redis.llen(CELERY_QUEUE) == 2)
    clock.advance(WINDOW * 2)
    time.sleep(WINDOW * 1.2)  # the sender looks at the clock again at least once a window
    assert redis.llen(CELERY_QUEUE) == 2, "nothing more was owed"


def test_a_wake_up_still_owed_when_the_process_exits_is_sent_then(clock):
    redis = get_redis()
    publish_one()
    redis.delete(relay_dirty_key())
    publish_one()
    assert not redis.exists(relay_dirty_key())
    relay_waker.flush()  # what atexit runs
    assert redis.exists(relay_dirty_key())
    assert redis.llen(CELERY_QUEUE) == 2
