"""Celery entry points of the event store: relay, consumers, and the safety sweep."""

from __future__ import annotations

import logging

from celery import shared_task
from django.dispatch import receiver

from platform_site.redis_connection import get_redis

from . import streams
from .bus import events_committed
from .consumer import consume
from .relay import relay_pending
from .subscribers import registered_subscribers

logger = logging.getLogger(__name__)
DIRTY_TTL_SECONDS = 30


def _relay_dirty_key() -> str:
    return f"{streams.epoch_key()}:relay-dirty"


@shared_task(name="eventstore.tasks.relay_events", ignore_result=True)
def relay_events(max_rounds: int = 20) -> int:
    """Relay until caught up, then wake the consumers of the partitions that got events."""
    redis = get_redis()
    sent = 0
    for _ in range(max_rounds):
        redis.delete(_relay_dirty_key())
        count, partitions = relay_pending()
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
    """
    redis = get_redis()
    pipe = redis.pipeline(transaction=False)
    for name in registered_subscribers():
        pipe.set(streams.dirty_key(name, partition), 1, nx=True, ex=DIRTY_TTL_SECONDS)
    if any(pipe.execute()) or force:
        consume_partition.apply_async((partition,), retry=False)


def kick_relay() -> None:
    """Ask a worker to relay now. Never raises: beat's sweep catches up if this fails."""
    try:
        if get_redis().set(_relay_dirty_key(), 1, nx=True, ex=DIRTY_TTL_SECONDS):
            relay_events.apply_async(retry=False)
    except Exception as exc:  # Redis down: the events wait safely in Postgres
        logger.warning("could not wake the relay (%r); the periodic sweep will relay later", exc)


@receiver(events_committed, dispatch_uid="eventstore.kick_relay_after_commit")
def _kick_relay_after_commit(sender, **_kwargs) -> None:
    kick_relay()
