"""One Redis client per process for the platform's own use (streams, pub/sub, health).

redis-py's pool reconnects by itself, so a Redis restart needs no restart of ours;
with Sentinel (platform_site/redis_location.py) it finds the new primary after a failover.
"""

from functools import lru_cache

import redis
from django.conf import settings

from .redis_location import RedisLocation


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    return RedisLocation.parse(settings.REDIS_URL).client(
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        health_check_interval=30,
    )
