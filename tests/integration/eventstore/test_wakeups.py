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


def count_redis_calls(monkeypatch) -> list:
    """Count the waker's calls to Redis (its one script), each still made for real."""
    calls = []
    real_script = wakeups._kick_relay_script()

    def counting_script(**kwargs):
        calls.append(kwargs["keys"])
        return real_script(**kwargs)

    monkeypatch.setattr(wakeups, "_kick_relay_script", lambda: counting_script)
    return calls


def test_under_load_the_commits_of_a_window_do_not_wake_the_sender_thread(clock, monkeypatch):
    redis = get_redis()
    publish_one()  # sent at once: a window opens
    clock.advance(WINDOW / 10)
    publish_one()  # owed: the sender thread starts, and sends when the window ends
    clock.advance(WINDOW)
    assert wait_for(lambda: redis.llen(CELERY_QUEUE) + int(redis.exists(relay_dirty_key())) >= 2)
    redis.delete(relay_dirty_key())
    # The sender opened a new window with that wake-up and sleeps until it ends.
    notified = []
    real_notify = relay_waker._condition.notify
    monkeypatch.setattr(relay_waker._condition, "notify", lambda *a: notified.append(a) or real_notify(*a))
    for _ in range(4):
        clock.advance(WINDOW / 10)
        publish_one()
    assert notified == [], "a commit inside the window woke the sender thread"
    clock.advance(WINDOW)
    assert wait_for(lambda: redis.exists(relay_dirty_key())), "the wake-up owed for the four was not sent"


def test_a_commit_after_the_window_sends_the_owed_wake_up_itself_and_it_is_not_sent_twice(clock, monkeypatch):
    calls = count_redis_calls(monkeypatch)
    publish_one()
    clock.advance(WINDOW / 10)
    publish_one()  # owed: the sender thread starts ...
    time.sleep(0.2)  # ... and sleeps until the window ends (0.9 s from its start)
    clock.advance(WINDOW)
    publish_one()  # the window is over: this commit's own wake-up follows both
    assert len(calls) == 2
    clock.advance(WINDOW * 2)
    time.sleep(WINDOW * 1.5)  # the sender has looked at the clock again since
    assert len(calls) == 2, "the wake-up owed before was sent again"
