"""A Redis Cluster primary killed: its replica takes its slots, and no event is lost or doubled.

Three primaries with a replica each (tests/e2e/redis_cluster.py), failing a
primary over after 1 s unreachable (`cluster-node-timeout 1000`). The killed
primary holds partition 0's stream; whatever it had not yet sent to its
replica is gone from Redis, and subscribers read it from Postgres (each entry
names its predecessor). The `test-recorder` subscriber counts every event's
effect in Postgres.
"""

from __future__ import annotations

import time

import pytest

from eventstore import streams

from .faults import recovered, unresolved_parked
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
