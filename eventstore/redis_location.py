"""Where Redis is, from one URL: a single server, or a primary that Sentinels watch.

- `redis://[:password@]host:port/db` and `rediss://…` (TLS): one server.
- `sentinel://[:password@]host:port[,host:port…]/service[/db]`: the Sentinels
  and the name of the service they watch. Every client (the platform's own,
  the cache, Celery's broker) asks them for the current primary, and after a
  failover asks again and follows it by itself. The password is the data
  servers'; Sentinels are reached without one.
- `redis-cluster://host:port[,host:port…]`: a Redis Cluster, for the streams
  and the cache only (eventstore/redis_cluster.py).

Settings call `cache_location` and `celery_broker` with `REDIS_URL` (this
module imports nothing of Django but its configuration error, so settings can
import it); `eventstore.redis` builds the event store's client with
`RedisLocation.client`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
from django.core.exceptions import ImproperlyConfigured
from redis.sentinel import Sentinel

from .redis_cluster import ClusterLocation, is_cluster_url
from .redis_cluster_cache import cluster_cache_location

SENTINEL_SCHEME = "sentinel"


@dataclass(frozen=True)
class RedisLocation:
    url: str
    sentinels: tuple[tuple[str, int], ...] = ()
    service: str = ""
    db: int = 0
    password: str | None = None

    @property
    def uses_sentinel(self) -> bool:
        return bool(self.sentinels)

    @classmethod
    def parse(cls, url: str) -> RedisLocation | ClusterLocation:
        parts = urlsplit(url)
        if parts.scheme in ("redis", "rediss", "unix"):
            return cls(url)
        if is_cluster_url(url):
            return ClusterLocation.parse(url)
        if parts.scheme != SENTINEL_SCHEME:
            raise ImproperlyConfigured(
                f"Redis URL scheme {parts.scheme!r}: use redis://, rediss://, sentinel:// or redis-cluster://"
            )
        credentials, _, hosts = parts.netloc.rpartition("@")
        password = unquote(credentials.partition(":")[2]) or None
        sentinels = []
        for host_port in hosts.split(","):
            host, _, port = host_port.rpartition(":")
            if not host or not port.isdigit():
                raise ImproperlyConfigured(f"Sentinel address {host_port!r} in REDIS_URL: write host:port")
            sentinels.append((host, int(port)))
        path = [piece for piece in parts.path.split("/") if piece]
        if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
            raise ImproperlyConfigured("sentinel:// URL needs /service or /service/db after the Sentinels")
        return cls(url, tuple(sentinels), path[0], int(path[1]) if len(path) == 2 else 0, password)

    def client(self, **options: Any) -> redis.Redis:
        """A client of the primary; `options` are redis-py's (socket timeouts, health checks)."""
        if not self.uses_sentinel:
            return redis.Redis.from_url(self.url, **options)
        timeouts = {
            key: options[key] for key in ("socket_timeout", "socket_connect_timeout") if key in options
        }
        watchers = Sentinel(list(self.sentinels), sentinel_kwargs=timeouts)
        return watchers.master_for(self.service, db=self.db, password=self.password, **options)


def cache_location(url: str, socket_timeout: float) -> dict[str, Any]:
    """`LOCATION` and `OPTIONS` of django-redis's cache for `url`."""
    if is_cluster_url(url):
        return cluster_cache_location(url, socket_timeout)
    location = RedisLocation.parse(url)
    options: dict[str, Any] = {"SOCKET_CONNECT_TIMEOUT": socket_timeout, "SOCKET_TIMEOUT": socket_timeout}
    if not location.uses_sentinel:
        return {"LOCATION": url, "OPTIONS": options}
    options.update(
        CLIENT_CLASS="django_redis.client.SentinelClient",
        CONNECTION_FACTORY="django_redis.pool.SentinelConnectionFactory",
        SENTINELS=list(location.sentinels),
        SENTINEL_KWARGS={"socket_timeout": socket_timeout, "socket_connect_timeout": socket_timeout},
    )
    if location.password:
        options["PASSWORD"] = location.password
    return {"LOCATION": f"redis://{location.service}/{location.db}", "OPTIONS": options}


def celery_broker(url: str) -> tuple[str, dict[str, Any]]:
    """Celery's broker URL for `url`, and the transport options it needs beyond the usual ones."""
    if is_cluster_url(url):
        raise ImproperlyConfigured(
            "Celery's broker cannot use a Redis Cluster: with REDIS_URL a redis-cluster:// URL, "
            "set CELERY_BROKER_URL to a redis:// or sentinel:// URL (docs/deploy.md)"
        )
    location = RedisLocation.parse(url)
    if not location.uses_sentinel:
        return url, {}
    secret = f":{location.password}@" if location.password else ""
    broker = ";".join(f"sentinel://{secret}{host}:{port}/{location.db}" for host, port in location.sentinels)
    return broker, {"master_name": location.service}
