"""Figures about the log that health checks and dashboards read."""

from __future__ import annotations

import logging

from django.db import connection

from . import partitions, streams
from .models import Checkpoint
from .reading import horizon
from .redis import REDIS_ERRORS, get_redis

logger = logging.getLogger(__name__)

RELAY_CHECKPOINT = "relay"


# Requests read these (/health/, /metrics, the dashboard): each is bounded, however
# long the log or the lag. A lag is counted up to this many events.
LAG_COUNT_LIMIT = 100_000


def head_position() -> int:
    """The last position a follower can read now (0 for an empty log).

    Through migration 0014's function: the newest partitions below the horizon,
    not a plan over every partition below it.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT eventstore_last_position_below(%s)", [horizon()])
        return cursor.fetchone()[0]


def events_behind(position: int) -> int:
    """How many readable events lie after `position`, counted up to LAG_COUNT_LIMIT."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM eventstore_event WHERE position > %s AND position < %s "
            "ORDER BY position LIMIT %s) AS behind",
            [position, horizon(), LAG_COUNT_LIMIT],
        )
        return cursor.fetchone()[0]


def default_partition_events() -> int:
    """Events the log's DEFAULT partition caught (no range partition was made in time), up to a limit."""
    return partitions.rows_outside_partitions()


def relay_lag() -> int:
    """Events committed but not yet relayed to Redis (up to LAG_COUNT_LIMIT)."""
    checkpoint = Checkpoint.objects.filter(name=RELAY_CHECKPOINT).values_list("position", flat=True).first()
    return events_behind(checkpoint or 0)


def check_redis_serves_streams() -> None:
    """Raise one of REDIS_ERRORS unless Redis serves every key of the event streams.

    On a cluster that is each partition's slot: a primary that died with no
    replica leaves its slots unserved while the other nodes still answer PING.
    """
    pipe = get_redis().pipeline(transaction=False)
    for key in (streams.epoch_key(), *map(streams.partition_key, range(streams.partition_count()))):
        pipe.exists(key)
    pipe.execute()


def relay_paced() -> bool | None:
    """Does the leading relay read on its clock (a high commit rate)? None when Redis is down.

    See eventstore.relay_pacing.
    """
    try:
        return bool(get_redis().exists(streams.relay_paced_key()))
    except REDIS_ERRORS as exc:
        logger.warning("cannot tell whether the relay reads on its clock: %r", exc)
        return None


def runner_partitions() -> list[int] | None:
    """The partitions a live stream runner consumes ([] when none runs); None when Redis is down."""
    try:
        pipe = get_redis().pipeline(transaction=False)
        for partition in range(streams.partition_count()):
            pipe.exists(streams.runner_key(partition))
        return [p for p, alive in enumerate(pipe.execute()) if alive]
    except REDIS_ERRORS as exc:
        logger.warning("cannot tell whether a stream runner is alive: %r", exc)
        return None
