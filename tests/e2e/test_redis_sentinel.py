"""Redis under Sentinel: the stream runner, Celery's broker and the cache follow a failover.

The platform's processes get `REDIS_URL=sentinel://…` naming three Sentinels
that watch a primary and its replica (tests/e2e/redis_sentinel.py). The
`test-recorder` subscriber counts each event's effect in Postgres, so "lost"
and "doubled" are checked per event across the failover.
"""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest
import redis

from eventstore import streams
from eventstore.models import ParkedEvent

from .faults import recovered
from .harness import ROOT, VENV_BIN, wait_for
from .redis_sentinel import SentinelGroup
from .test_delivery import all_once, effects, write_events


@pytest.fixture
def sentinel_group():
    group = SentinelGroup()
    group.start()
    try:
        yield group
    finally:
        group.stop()


@pytest.fixture
def on_sentinel(platform, sentinel_group):
    platform.extra_env["TEST_REDIS_URL"] = sentinel_group.url
    return platform


def no_parked() -> bool:
    return not ParkedEvent.objects.filter(resolved_at__isnull=True).exists()


def relayed_to(client: redis.Redis) -> set[uuid.UUID]:
    """Ids of the events in this Redis server's event streams."""
    ids = set()
    for partition in range(streams.partition_count()):
        for _, fields in client.xrange(streams.partition_key(partition)):
            ids.add(streams.decode(fields[b"event"]).id)
    return ids


def worker_answers_ping(platform) -> bool:
    """`celery inspect ping` through the Sentinel URL, as an operator's liveness check runs it."""
    result = subprocess.run(
        [str(VENV_BIN / "celery"), "-A", "platform_site", "inspect", "ping", "--timeout", "5"],
        cwd=ROOT,
        env=platform.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode == 0 and "pong" in result.stdout


def test_a_failover_loses_no_event_and_doubles_no_effect(on_sentinel, sentinel_group):
    platform = on_sentinel
    streams = platform.start_streams()
    platform.start_beat()
    platform.start_worker("sentinel", concurrency=2)
    before = write_events(60)
    wait_for(lambda: all_once(before), timeout=60, message="delivery before the failover")

    wait_for(sentinel_group.replica_in_sync, timeout=15, message="the replica to catch up")
    started = time.monotonic()
    old_port, new_port = sentinel_group.failover()
    recovered("redis sentinel, SENTINEL FAILOVER: the replica promoted", started, lambda: True)
    during = write_events(60)  # committed while clients still find their way to the new primary
    recovered(
        "redis sentinel, SENTINEL FAILOVER: events committed meanwhile delivered",
        started,
        lambda: all_once(before + during),
        timeout=90,
        interval=0.2,
    )

    # Until Sentinel demotes the old primary (its next check, within about 10 s), a
    # client still connected to it writes there, and those writes are lost when it
    # resyncs. Subscribers lose nothing by it: they find the gap in the stream and
    # read those events from Postgres (above). Then every client uses the new primary.
    wait_for(
        lambda: sentinel_group.role(old_port) == "slave", timeout=30, message="the old primary's demotion"
    )
    new_primary = redis.Redis(port=new_port, socket_timeout=2)
    settled = write_events(20)
    recovered(
        "redis sentinel, SENTINEL FAILOVER: the relay writing to the new primary",
        started,
        lambda: {event.id for event in settled} <= relayed_to(new_primary),
        timeout=60,
    )
    assert wait_for(lambda: worker_answers_ping(platform), timeout=60, interval=1, message="celery ping")

    # Without the runner, Celery's workers deliver (beat's sweep and their tasks):
    # their broker must have followed the failover too.
    streams.terminate()
    after = write_events(30)
    everything = before + during + settled + after
    wait_for(lambda: all_once(everything), timeout=120, interval=0.5, message="Celery's delivery after it")
    assert effects(everything) == [1] * len(everything)
    assert {event.id for event in after} <= relayed_to(new_primary)
    assert no_parked()


def test_a_killed_primary_is_replaced_and_what_it_lost_is_delivered_from_postgres(
    on_sentinel, sentinel_group
):
    platform = on_sentinel
    platform.start_streams()
    platform.start_beat()
    platform.start_worker("sentinel-kill", concurrency=2)
    before = write_events(60)
    wait_for(lambda: all_once(before), timeout=60, message="delivery before the crash")

    started = time.monotonic()
    old_port = sentinel_group.primary_port()
    sentinel_group.kill(old_port)  # SIGKILL: whatever it had not replicated is gone
    during = write_events(60)
    recovered(
        "redis sentinel, primary killed: the replica promoted",
        started,
        lambda: sentinel_group.primary_port() != old_port,
        timeout=60,
    )
    recovered(
        "redis sentinel, primary killed: events committed meanwhile delivered",
        started,
        lambda: all_once(before + during),
        timeout=120,
        interval=0.2,
    )
    new_port = sentinel_group.primary_port()
    assert new_port != old_port
    recovered(
        "redis sentinel, primary killed: the relay writing to the new primary",
        started,
        lambda: {event.id for event in during} <= relayed_to(redis.Redis(port=new_port, socket_timeout=2)),
        timeout=60,
    )
    new_primary = redis.Redis(port=new_port, socket_timeout=2)
    settled = write_events(20)
    wait_for(
        lambda: {event.id for event in settled} <= relayed_to(new_primary) and all_once(settled),
        timeout=60,
        message="the relay to write to the new primary",
    )
    assert no_parked()
