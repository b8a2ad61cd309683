"""Redis Cluster for the event streams and the cache, from one URL.

`redis-cluster://[:password@]host:port[,host:port…]` (`rediss-cluster://` for
TLS) names some nodes of the cluster, primaries or replicas: one that answers
is enough for the client to learn the slot map, and it follows the map as it
changes (MOVED and ASK redirects, a replica promoted after its primary
failed). A cluster has one database, so the URL has no path.

With TLS the query may say how to check the nodes' certificates, with
redis-py's names (as `rediss://` URLs do): `ssl_ca_certs` (the CA file;
default: the system's), `ssl_cert_reqs` (`required`, the default, `optional`
or `none`), `ssl_check_hostname` (`true`/`false`), and `ssl_certfile` with
`ssl_keyfile` for a client certificate when the nodes ask for one.

Celery's broker cannot use a cluster (kombu's Redis transport talks to one
server): with REDIS_URL a cluster, CELERY_BROKER_URL names a plain or Sentinel
Redis (`redis_location.celery_broker` refuses a cluster URL).

Keys a command or script uses together must share a hash tag, so they live
in one slot; `eventstore.streams` names its keys that way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured
from redis.cluster import ClusterNode, RedisCluster

CLUSTER_SCHEMES = {"redis-cluster": False, "rediss-cluster": True}  # scheme → TLS
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
# The query parameters of a rediss-cluster:// URL, each with what makes its value redis-py's.
TLS_OPTIONS = {
    "ssl_ca_certs": str,
    "ssl_certfile": str,
    "ssl_keyfile": str,
    "ssl_cert_reqs": lambda value: {"none": "none", "optional": "optional", "required": "required"}[value],
    "ssl_check_hostname": lambda value: _BOOLEANS[value.lower()],
}


def is_cluster_url(url: str) -> bool:
    return urlsplit(url).scheme in CLUSTER_SCHEMES


@dataclass(frozen=True)
class ClusterLocation:
    url: str
    nodes: tuple[tuple[str, int], ...]
    password: str | None = None
    tls: bool = False
    tls_options: tuple[tuple[str, Any], ...] = ()
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
        if parts.path.strip("/"):
            raise ImproperlyConfigured(
                "A redis-cluster:// URL names nodes only: a cluster has one database, so no /db"
            )
        tls = CLUSTER_SCHEMES[parts.scheme]
        return cls(url, tuple(nodes), password, tls, _tls_options(parts.query, tls))

    def client(self, **options: Any) -> RedisCluster:
        """A client of the whole cluster; `options` are redis-py's (socket timeouts, health checks)."""
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in self.nodes],
            password=self.password,
            ssl=self.tls,
            # The servers decide whether slots without a node stop the whole cluster
            # (cluster-require-full-coverage); the client then uses the slots that are served.
            require_full_coverage=False,
            **dict(self.tls_options),
            **options,
        )


def _tls_options(query: str, tls: bool) -> tuple[tuple[str, Any], ...]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise ImproperlyConfigured(f"Redis Cluster URL options {query!r}: {exc}") from None
    if pairs and not tls:
        raise ImproperlyConfigured("Only a rediss-cluster:// URL takes options (its TLS certificate checks)")
    options = []
    for name, value in pairs:
        if name not in TLS_OPTIONS:
            raise ImproperlyConfigured(
                f"Redis Cluster URL option {name!r}: known are {', '.join(sorted(TLS_OPTIONS))}"
            )
        try:
            options.append((name, TLS_OPTIONS[name](value)))
        except KeyError:
            raise ImproperlyConfigured(
                f"Redis Cluster URL option {name}={value!r} is not a valid value"
            ) from None
    return tuple(options)


def is_cluster_client(client: Any) -> bool:
    return isinstance(client, RedisCluster)
