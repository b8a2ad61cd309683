"""Celery entry points of the event store: relay, consumers, and the safety sweep."""

from __future__ import annotations

import logging
import time
from functools import lru_cache

from celery import shared_task
from django.dispatch import receiver

from platform_site.redis_connection import get_redis

from . import streams
from .bus import events_committed
from .consumer import consume
from .relay import relay_pending
from .stream_runner import KICK_INTERVAL_SECONDS, push_wake, runner_alive
from .subscribers import registered_subscribers

logger = logging.getLogger(__name__)
DIRTY_TTL_SECONDS = 30
CELERY_TASK_DUE, RUNNER_WOKEN = 1, 2  # what the kick script answers (0: nothing to do)


def _relay_dirty_key() -> str:
    return f"{streams.epoch_key()}:relay-dirty"


@shared_task(name="eventstore.tasks.relay_events", ignore_result=True)
def relay_events(max_rounds: int = 20) -> int:
    """Relay until caught up, then wake the consumers of the partitions that got events."""
    redis = get_redis()
    sent = 0
    for _ in range(max_rounds):
        redis.delete(_relay_dirty_key())
        count, partitions, _held_back = relay_pending()  # the sweep comes back anyway
        sent += count
        for partition in partitions:
            kick_consumers(partition)
        if not redis.exists(_relay_dirty_key()):
            break
    return sent


@shared_task(name="eventstore.tasks.consume_partition", ignore_result=True, acks_late=True)
def consume_partition(partition: int) -> int:
    """Run every subscriber over one partition (each under its own lock), in turn.

    One task per partition rather than per (subscriber, partition): the task
    overhead is paid once for all subscribers, and partitions still spread
    over the workers.
    """
    return sum(consume(name, partition, hand_off=True) for name in sorted(registered_subscribers()))


@shared_task(name="eventstore.tasks.sweep", ignore_result=True)
def sweep() -> None:
    """Beat's safety net: relay what waits and wake every consumer, whatever kicks were lost."""
    relay_events()
    for partition in range(streams.partition_count()):
        kick_consumers(partition, force=True)


def kick_consumers(partition: int, *, force: bool = False) -> None:
    """Mark every subscriber of the partition dirty; send a task unless one is due anyway.

    A subscriber that was dirty already has a task queued or running that will
    see the mark (consume() clears it before draining and checks it after).
    While a stream runner is alive, its partition loop is woken instead.
    """
    redis = get_redis()
    if runner_alive(redis, partition):
        pipe = redis.pipeline(transaction=False)
        push_wake(pipe, streams.partition_wake_key(partition))
        pipe.execute()
        return
    pipe = redis.pipeline(transaction=False)
    for name in registered_subscribers():
        pipe.set(streams.dirty_key(name, partition), 1, nx=True, ex=DIRTY_TTL_SECONDS)
    if any(pipe.execute()) or force:
        consume_partition.apply_async((partition,), retry=False)


# One round trip: wake a live stream runner's relay (2), or else mark the relay
# dirty and say whether the mark is new (1: a Celery task is due).
_KICK_RELAY_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('LPUSH', KEYS[2], 1)
    redis.call('LTRIM', KEYS[2], 0, 0)
    return 2
end
if redis.call('SET', KEYS[3], 1, 'NX', 'EX', ARGV[1]) then
    return 1
end
return 0
"""


@lru_cache(maxsize=1)
def _kick_relay_script():
    # Bound to the process's one client (get_redis is cached too); redis-py
    # sends the script by hash and loads it again after a Redis restart.
    return get_redis().register_script(_KICK_RELAY_LUA)


# When this process last woke a live runner's relay (monotonic clock).
_runner_woken_at: float | None = None


def kick_relay() -> None:
    """Wake the relay now: a stream runner's if one is alive, else a Celery task.

    A runner's relay woken less than KICK_INTERVAL_SECONDS ago by this process
    is still watching the log (stream_runner.ACTIVE_SECONDS), so the commit
    needs no Redis call at all: a Redis round trip was a third of the client's
    CPU for a one-event transaction. (Should that runner die within the
    interval, beat's sweep relays what it leaves.) Never raises: the sweep
    catches up if this fails.
    """
    global _runner_woken_at
    now = time.monotonic()
    if _runner_woken_at is not None and now - _runner_woken_at < KICK_INTERVAL_SECONDS:
        return
    try:
        keys = [streams.runner_key(), streams.relay_wake_key(), _relay_dirty_key()]
        outcome = _kick_relay_script()(keys=keys, args=[DIRTY_TTL_SECONDS])
        _runner_woken_at = now if outcome == RUNNER_WOKEN else None
        if outcome == CELERY_TASK_DUE:
            relay_events.apply_async(retry=False)
    except Exception as exc:  # Redis down: the events wait safely in Postgres
        logger.warning("could not wake the relay (%r); the periodic sweep will relay later", exc)


@receiver(events_committed, dispatch_uid="eventstore.kick_relay_after_commit")
def _kick_relay_after_commit(sender, **_kwargs) -> None:
    kick_relay()
