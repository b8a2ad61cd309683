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
def consume_partition(subscriber: str, partition: int) -> int:
    return consume(subscriber, partition)


@shared_task(name="eventstore.tasks.sweep", ignore_result=True)
def sweep() -> None:
    """Beat's safety net: relay what waits and wake every consumer, whatever kicks were lost."""
    relay_events()
    for partition in range(streams.partition_count()):
        kick_consumers(partition, force=True)


def kick_consumers(partition: int, *, force: bool = False) -> None:
    redis = get_redis()
    for name in registered_subscribers():
        newly_dirty = redis.set(streams.dirty_key(name, partition), 1, nx=True, ex=DIRTY_TTL_SECONDS)
        if newly_dirty or force:
            consume_partition.apply_async((name, partition), retry=False)


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
