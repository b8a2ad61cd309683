"""A Redis Cluster primary killed: with a replica, or with none to take its slots.

Three primaries (tests/e2e/redis_cluster.py), failing a primary over after
1 s unreachable (`cluster-node-timeout 1000`). With a replica each: the
killed primary holds partition 0's stream; whatever it had not yet sent to
its replica is gone from Redis, and subscribers read it from Postgres (each
entry names its predecessor). Without replicas: the cache misses (never a
500) while the primary's slots have no node, and the streams say Redis is
unavailable and deliver everything once a node serves the slots again. The
`test-recorder` subscriber counts every event's effect in Postgres.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

import pytest
from django_redis.cache import RedisCache
from redis.exceptions import SlotNotCoveredError

from eventstore import monitoring, streams
from eventstore.consumer import StreamRunnerPartition
from eventstore.redis import REDIS_ERRORS
from eventstore.redis_cluster import ClusterLocation
from eventstore.redis_location import cache_location
from eventstore.subscribers import registered_subscribers

from .faults import member, recovered, unresolved_parked
from .harness import wait_for
from .redis_cluster import LocalCluster
from .test_delivery import all_once, effects, write_events
from .test_redis_cluster import relayed_positions


@pytest.fixture
def cluster_with_replicas():
    running = LocalCluster(replicas=1)
    try:
        running.start()
        yield running
    finally:
        running.stop()


def test_a_killed_primary_is_replaced_by_its_replica_and_every_event_is_handled_once(
    platform, cluster_with_replicas
):
    cluster = cluster_with_replicas
    platform.extra_env["TEST_REDIS_URL"] = cluster.url
    platform.extra_env["TEST_CELERY_BROKER_URL"] = platform.redis_url
    platform.start_streams()
    platform.start_beat()
    platform.start_worker("cluster-failover", concurrency=2)
    before = write_events(60)
    wait_for(lambda: all_once(before), timeout=60, message="delivery before the kill")
    wait_for(cluster.replicas_in_sync, timeout=15, message="the replicas to catch up")

    victim = cluster.owner(streams.partition_key(0))
    started = time.monotonic()
    cluster.kill(victim)  # SIGKILL: whatever it had not replicated is gone
    during = write_events(60)
    recovered(
        "redis cluster, primary killed: its replica serves its slots",
        started,
        lambda: victim not in (primaries := cluster.primary_ports()) and len(primaries) == cluster.primaries,
        timeout=60,
    )
    recovered(
        "redis cluster, primary killed: events committed meanwhile delivered",
        started,
        lambda: all_once(before + during),
        timeout=120,
        interval=0.2,
    )
    assert cluster.owner(streams.partition_key(0)) != victim

    after = write_events(30)
    wait_for(lambda: all_once(after), timeout=60, interval=0.2, message="delivery after the failover")
    assert {event.position for event in after} <= set(relayed_positions(cluster))
    everything = before + during + after
    assert effects(everything) == [1] * len(everything)
    assert unresolved_parked() == 0


def test_a_reader_whose_default_node_died_reads_again_at_its_next_round(transactional_db):
    """redis-py asks the client's default node for XREADGROUP's keys, and a pipeline kept a dead one.

    The partition read lives on a primary that stays up: only the default node dies.
    """
    cluster = LocalCluster(full_coverage=False)
    client = None
    try:
        cluster.start()
        client = ClusterLocation.parse(cluster.url).client(socket_timeout=1, socket_connect_timeout=1)
        victim = client.get_default_node().port
        partition = next(
            p for p in range(streams.partition_count()) if cluster.owner(streams.partition_key(p)) != victim
        )
        reader = StreamRunnerPartition(partition, sorted(registered_subscribers()), client)
        reader.run(full_check=True)  # takes the locks and makes the consumer groups
        reader.run(full_check=False)  # a woken round: one pipelined read for every subscriber

        cluster.kill(victim)
        with pytest.raises(REDIS_ERRORS):
            reader.run(full_check=False)  # the keys were asked of the dead node
        for _ in range(3):  # with the dead node still the default, every round would fail
            assert reader.run(full_check=False) is False
        assert client.get_default_node().port != victim
    finally:
        if client is not None:
            client.close()
        cluster.stop()


def cluster_cache(cluster: LocalCluster) -> RedisCache:
    """The platform's cache (django-redis, settings' options) on `cluster`, with keys of its own."""
    params = cache_location(cluster.url, 1.0)
    return RedisCache(params["LOCATION"], {"OPTIONS": params["OPTIONS"], "KEY_PREFIX": uuid.uuid4().hex})


def every_cache_call_misses(cache: RedisCache, lost: list[str]) -> None:
    """Each kind of call on keys of the lost primary's slots answers like a miss, raising nothing."""
    assert cache.get(lost[0]) is None
    assert cache.get(lost[0], "default") == "default"
    assert cache.get_many(lost) == {}
    assert not cache.set(lost[0], 5)
    assert not cache.add(lost[1], 5)
    assert cache.incr(lost[0]) is None
    assert not cache.has_key(lost[0])
    cache.set_many({key: 5 for key in lost})
    cache.delete(lost[0])
    cache.delete_many(lost)
    cache.touch(lost[0], 60)


def test_a_primary_lost_without_a_replica_makes_the_cache_miss_and_requests_go_on(platform, caplog):
    cluster = LocalCluster(full_coverage=False)  # the other primaries serve their slots meanwhile
    try:
        cluster.start()
        platform.extra_env["TEST_REDIS_URL"] = cluster.url
        platform.extra_env["TEST_CELERY_BROKER_URL"] = platform.redis_url
        platform.start_web()
        member(platform)  # registration and sign-in count on the cluster (rate limits)
        client = cluster.client()
        try:
            throttles = [key.decode() for key in client.scan_iter(match="*throttle*")]
        finally:
            client.close()
        assert throttles
        victim = cluster.owner(throttles[0])  # the primary of a rate-limit counter the web process uses

        cache = cluster_cache(cluster)
        keys = [f"key-{n}" for n in range(40)]
        lost = [key for key in keys if cluster.owner(cache.client.make_key(key)) == victim]
        kept = [key for key in keys if key not in lost]
        assert lost and kept
        cache.set_many(dict.fromkeys(keys, 1))

        caplog.set_level(logging.ERROR, logger="django_redis.cache")
        cluster.kill(victim)
        every_cache_call_misses(cache, lost)  # the node refuses connections
        wait_for(
            lambda: victim not in cluster.primary_ports(), timeout=30, message="the primary marked failed"
        )
        every_cache_call_misses(cache, lost)  # its slots: CLUSTERDOWN, "not served"
        cluster.forget(victim)
        fresh = ClusterLocation.parse(cluster.url).client()  # as the platform makes its clients
        try:
            with pytest.raises(SlotNotCoveredError):  # what a client that learns the new slot map raises
                fresh.get(cache.client.make_key(lost[0]))
        finally:
            fresh.close()
        for _ in range(10):
            every_cache_call_misses(cache, lost)  # its slots belong to no node
        assert cache.get_many(kept) == dict.fromkeys(kept, 1)  # the other primaries still serve

        # The web process's rate limits hit the uncovered slot: requests are still served.
        member(platform)
        member(platform)
        # Logged once a minute per kind of error, not once per call (platform_site.logging.OncePerInterval).
        ignored = [r for r in caplog.records if r.name == "django_redis.cache"]
        assert len(ignored) <= 6, [r.getMessage() for r in ignored]  # of more than 100 failed calls
        web_log = next(p for p in platform.processes if p.name.startswith("web")).log()
        assert not re.search(r" 5\d\d$", web_log, re.MULTILINE), web_log[-3000:]
        assert "Internal Server Error" not in web_log
    finally:
        cluster.stop()


def test_a_primary_lost_without_a_replica_stops_delivery_said_clearly_and_loses_nothing(
    platform, client, monkeypatch
):
    cluster = LocalCluster()  # Redis's default: the whole cluster refuses while a slot has no node
    health_redis = None
    try:
        cluster.start()
        # /health/ asked here, its Redis checked on the cluster
        health_redis = ClusterLocation.parse(cluster.url).client(socket_timeout=1, socket_connect_timeout=1)
        monkeypatch.setattr(monitoring, "get_redis", lambda: health_redis)
        assert client.get("/health/").status_code == 200
        platform.extra_env["TEST_REDIS_URL"] = cluster.url
        platform.extra_env["TEST_CELERY_BROKER_URL"] = platform.redis_url
        runner = platform.start_streams()
        platform.start_beat()
        platform.start_worker("cluster-lost", concurrency=2)
        before = write_events(40)
        wait_for(lambda: all_once(before), timeout=60, message="delivery before the kill")

        victim = cluster.owner(streams.partition_key(0))
        cluster.kill(victim)  # no replica: its streams and slots are gone
        during = write_events(40)
        wait_for(
            lambda: "Redis unavailable" in runner.log(),
            timeout=60,
            message="the runner saying Redis is unavailable",
        )
        wait_for(
            lambda: victim not in cluster.primary_ports(), timeout=30, message="the primary marked failed"
        )
        response = client.get("/health/")  # the other nodes answer PING meanwhile, not for the slots
        assert response.status_code == 503 and response.json()["failing"] == ["redis"]
        cluster.restart(victim)  # an empty node serves the slots again
        wait_for(lambda: client.get("/health/").status_code == 200, timeout=30, message="/health/ ok again")
        wait_for(
            lambda: all_once(before + during), timeout=120, interval=0.3, message="delivery after the restart"
        )
        after = write_events(20)
        wait_for(lambda: all_once(after), timeout=60, interval=0.3, message="delivery afterwards")
        everything = before + during + after
        assert effects(everything) == [1] * len(everything)
        assert unresolved_parked() == 0
        assert "Traceback" not in runner.log()
    finally:
        if health_redis is not None:
            health_redis.close()
        cluster.stop()
