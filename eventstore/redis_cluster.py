"""Redis Cluster for the event streams and the cache, from one URL.

`redis-cluster://[:password@]host:port[,host:port…]` (`rediss-cluster://` for
TLS) names some nodes of the cluster, primaries or replicas: one that answers
is enough for the client to learn the slot map, and it follows the map as it
changes (MOVED and ASK redirects, a replica promoted after its primary
failed). A cluster has one database, so the URL has no path.

Celery's broker cannot use a cluster (kombu's Redis transport talks to one
server): with REDIS_URL a cluster, CELERY_BROKER_URL names a plain or Sentinel
Redis (`redis_location.celery_broker` refuses a cluster URL).

Keys a command or script uses together must share a hash tag, so they live
in one slot; `eventstore.streams` names its keys that way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured
from redis.cluster import ClusterNode, RedisCluster

CLUSTER_SCHEMES = {"redis-cluster": False, "rediss-cluster": True}  # scheme → TLS


def is_cluster_url(url: str) -> bool:
    return urlsplit(url).scheme in CLUSTER_SCHEMES


@dataclass(frozen=True)
class ClusterLocation:
    url: str
    nodes: tuple[tuple[str, int], ...]
    password: str | None = None
    tls: bool = False
    uses_sentinel = False  # read beside RedisLocation's, which has the same `client`

    @classmethod
    def parse(cls, url: str) -> ClusterLocation:
        parts = urlsplit(url)
        if parts.scheme not in CLUSTER_SCHEMES:
            raise ImproperlyConfigured(f"{url!r} is not a redis-cluster:// URL")
        credentials, _, hosts = parts.netloc.rpartition("@")
        password = unquote(credentials.partition(":")[2]) or None
        nodes = []
        for host_port in hosts.split(","):
            host, _, port = host_port.rpartition(":")
            if not host or not port.isdigit():
                raise ImproperlyConfigured(f"Cluster node {host_port!r} in the Redis URL: write host:port")
            nodes.append((host, int(port)))
        if parts.path.strip("/") or parts.query:
            raise ImproperlyConfigured(
                "A redis-cluster:// URL names nodes only: a cluster has one database, so no /db"
            )
        return cls(url, tuple(nodes), password, CLUSTER_SCHEMES[parts.scheme])

    def client(self, **options: Any) -> RedisCluster:
        """A client of the whole cluster; `options` are redis-py's (socket timeouts, health checks)."""
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in self.nodes],
            password=self.password,
            ssl=self.tls,
            **options,
        )


def is_cluster_client(client: Any) -> bool:
    return isinstance(client, RedisCluster)
