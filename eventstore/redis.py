"""The event store's Redis client, one per process: streams, pub/sub, wakeups, runner locks.

Configured by the settings `REDIS_URL` and `REDIS_SOCKET_TIMEOUT`. The site's
health checks and the dashboard ping Redis through it too. redis-py's pool
reconnects by itself, so a Redis restart needs no restart of ours; with
Sentinel (eventstore/redis_location.py) it finds the new primary after a failover.
"""

from functools import lru_cache

import redis
from django.conf import settings
from redis.exceptions import RedisClusterException

from .redis_cluster import is_cluster_client
from .redis_location import RedisLocation

# What a Redis outage raises. A cluster's client also raises errors outside RedisError's
# family (SlotNotCoveredError when a primary died with no replica to take its slots,
# RedisClusterException when no node answers): every `except` that means "Redis is
# unavailable" catches this tuple, so a cluster outage degrades like a server's.
REDIS_ERRORS = (redis.RedisError, RedisClusterException)


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    return RedisLocation.parse(settings.REDIS_URL).client(
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        health_check_interval=30,
    )


def after_redis_error(client) -> None:
    """Let a cluster client stop asking a dead node for the keys of commands.

    redis-py finds the keys of XREADGROUP (a command whose keys move) with
    COMMAND GETKEYS on the client's default node. A pipeline keeps a default
    node that died until something else makes the client read the slot map
    again, so every read of a stream fails meanwhile, even of a stream on a
    live primary. Choosing another default among the slot map's primaries
    costs no network call (docs/operations.md, "A Redis Cluster primary lost").
    """
    if is_cluster_client(client):
        client.replace_default_node()
