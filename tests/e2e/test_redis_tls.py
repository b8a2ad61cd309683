"""Redis over TLS: `rediss://` (one server) and `rediss-cluster://` carry the platform, certificates checked.

The servers are private redis-server processes listening with TLS only
(tests/e2e/redis_servers.py), with a CA and a server certificate made by the
test (tests/e2e/redis_tls.py). The URLs name the CA file and require the
certificate check, as docs/deploy.md tells an operator to.
"""

from __future__ import annotations

import pytest
import redis
from redis.exceptions import RedisClusterException

from eventstore import streams
from eventstore.redis_cluster import ClusterLocation

from .faults import member
from .harness import free_port, wait_for
from .redis_cluster import LocalCluster
from .redis_servers import RedisProcesses
from .redis_tls import make_certificates
from .test_delivery import all_once, effects, write_events
from .test_redis_cluster import relayed_positions
from .test_redis_cluster_failover import cluster_cache

REFUSED_CERTIFICATE = "(?i)certificate verify failed"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def another_ca(tmp_path_factory):
    """Certificates of a CA that signed none of the servers'."""
    return make_certificates(tmp_path_factory.mktemp("other-tls"), label="other")


def test_streams_cache_and_broker_on_a_tls_server(platform, certificates, another_ca):
    server = RedisProcesses(label="tls-redis", tls=certificates)
    port = free_port()
    try:
        server.start_server(port)
        url = f"rediss://127.0.0.1:{port}/0?ssl_cert_reqs=required&ssl_ca_certs={certificates.ca_cert}"
        platform.extra_env["TEST_REDIS_URL"] = url
        platform.extra_env["TEST_CELERY_BROKER_URL"] = url  # Celery's broker over TLS too
        platform.start_web()
        platform.start_streams()
        platform.start_beat()
        platform.start_worker("tls", concurrency=2)
        member(platform)  # registration and sign-in: rate-limit counters in the cache
        events = write_events(40)
        wait_for(lambda: all_once(events), timeout=90, interval=0.3, message="delivery over TLS")
        assert effects(events) == [1] * len(events)

        on_server = server.node(port)
        relayed = {
            int(fields[b"position"])
            for partition in range(streams.partition_count())
            for _, fields in on_server.xrange(streams.partition_key(partition))
        }
        assert {event.position for event in events} <= relayed
        assert any(True for _ in on_server.scan_iter(match="*throttle*"))
        assert not any(True for _ in platform.redis().scan_iter(match="*throttle*"))

        # The certificate is checked: a client that trusts another CA is refused.
        wrong = url.replace(str(certificates.ca_cert), str(another_ca.ca_cert))
        with pytest.raises(redis.ConnectionError, match=REFUSED_CERTIFICATE):
            redis.Redis.from_url(wrong, socket_connect_timeout=2).ping()
    finally:
        server.stop()


def test_streams_and_cache_on_a_tls_cluster(platform, certificates, another_ca):
    cluster = LocalCluster(tls=certificates)
    try:
        cluster.start()
        assert cluster.url.startswith("rediss-cluster://")
        platform.extra_env["TEST_REDIS_URL"] = cluster.url
        platform.extra_env["TEST_CELERY_BROKER_URL"] = platform.redis_url  # a cluster cannot be the broker
        platform.start_web()
        platform.start_streams()
        platform.start_beat()
        platform.start_worker("tls-cluster", concurrency=2)
        member(platform)
        events = write_events(40)
        wait_for(lambda: all_once(events), timeout=90, interval=0.3, message="delivery over TLS")
        assert effects(events) == [1] * len(events)
        assert {event.position for event in events} <= set(relayed_positions(cluster))

        cache = cluster_cache(cluster)  # the settings' cache for this URL
        values = {f"key-{n}": n for n in range(30)}
        cache.set_many(values)
        assert cache.get_many(list(values)) == values
        on_nodes = cluster.client()
        try:
            assert any(True for _ in on_nodes.scan_iter(match="*throttle*"))
        finally:
            on_nodes.close()

        wrong = cluster.url.replace(str(certificates.ca_cert), str(another_ca.ca_cert))
        with pytest.raises((RedisClusterException, redis.RedisError), match=REFUSED_CERTIFICATE):
            ClusterLocation.parse(wrong).client(socket_connect_timeout=2).ping()
    finally:
        cluster.stop()
