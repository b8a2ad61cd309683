"""django-redis's cache on a Redis Cluster, through the library's two extension points.

django-redis has no cluster client of its own. Its `CONNECTION_FACTORY`
option says how a client is made: here one `RedisCluster` per URL and
process, which keeps a pool per node itself (django-redis's factory would
build one pool for one server). Its `CLIENT_CLASS` option says how cache
calls become commands: the default one reads several keys with one MGET,
which a cluster refuses when the keys hash to different slots.

django-redis turns only connection errors, timeouts and `ResponseError`
into `ConnectionInterrupted`, which the cache takes as a miss
(DJANGO_REDIS_IGNORE_EXCEPTIONS). A cluster raises more while a primary is
down: `ClusterError`, and `SlotNotCoveredError` (outside RedisError's family)
once a dead primary's slots have no node. Every call of the client here turns
those into `ConnectionInterrupted` too, so the cache degrades the same way for
all of them: a miss, logged (once a minute, platform_site.logging), never a 500.
"""

from __future__ import annotations

import functools
from typing import Any

import redis
from django_redis.client import DefaultClient
from django_redis.client.default import _main_exceptions
from django_redis.exceptions import ConnectionInterrupted
from django_redis.pool import ConnectionFactory
from redis.cluster import RedisCluster
from redis.exceptions import ClusterError, RedisClusterException

from .redis_cluster import ClusterLocation


def cluster_cache_location(url: str, socket_timeout: float) -> dict[str, Any]:
    """`LOCATION` and `OPTIONS` of django-redis's cache for a redis-cluster:// URL."""
    ClusterLocation.parse(url)  # refuse a malformed URL when settings load, not at the first request
    return {
        # A list: django-redis would split a string at the commas between the nodes.
        "LOCATION": [url],
        "OPTIONS": {
            "CLIENT_CLASS": "eventstore.redis_cluster_cache.ClusterCacheClient",
            "CONNECTION_FACTORY": "eventstore.redis_cluster_cache.ClusterConnectionFactory",
            "SOCKET_CONNECT_TIMEOUT": socket_timeout,
            "SOCKET_TIMEOUT": socket_timeout,
        },
    }


_UNAVAILABLE = (*_main_exceptions, ClusterError, RedisClusterException)
# DefaultClient's methods that compute without Redis, or that already raise ConnectionInterrupted.
_LOCAL = {"connect", "decode", "disconnect", "do_close_clients", "close", "encode", "get_client",
          "get_client_with_index", "get_next_client_index", "make_key", "make_pattern"}  # fmt: skip


def _interrupted_when_unavailable(method):
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except _UNAVAILABLE as exc:
            raise ConnectionInterrupted(connection=None) from exc

    return call


class ClusterConnectionFactory(ConnectionFactory):
    # Per process, like django-redis's own pools: Django makes a cache client per request.
    _clusters: dict[str, RedisCluster] = {}

    def get_connection(self, params: dict[str, Any]) -> RedisCluster:
        url = params["url"]
        if url not in self._clusters:
            timeouts = {
                key: params[key] for key in ("socket_timeout", "socket_connect_timeout") if key in params
            }
            try:
                # Unlike a plain client, this connects at once (it asks a node for the slot map).
                self._clusters[url] = ClusterLocation.parse(url).client(**timeouts)
            except (RedisClusterException, redis.RedisError) as exc:
                # What django-redis turns into a miss (DJANGO_REDIS_IGNORE_EXCEPTIONS), as for one server down.
                raise ConnectionInterrupted(connection=None) from exc
        return self._clusters[url]

    def disconnect(self, connection: RedisCluster) -> None:
        connection.disconnect_connection_pools()


class ClusterCacheClient(DefaultClient):
    def get_many(self, keys, version=None, client=None) -> dict:
        """As DefaultClient's, with one MGET per slot instead of one in all."""
        if client is None:
            client = self.get_client(write=False)
        if not keys:
            return {}
        originals = {self.make_key(key, version=version): key for key in keys}
        values = client.mget_nonatomic(list(originals))  # errors: as every call's, below
        return {
            originals[key]: self.decode(value)
            for key, value in zip(originals, values, strict=True)
            if value is not None
        }


for _name in dir(DefaultClient):
    if not _name.startswith("_") and _name not in _LOCAL and callable(getattr(DefaultClient, _name)):
        setattr(ClusterCacheClient, _name, _interrupted_when_unavailable(getattr(ClusterCacheClient, _name)))
