"""A Redis Cluster of three primaries carries the event streams and the cache end to end.

The platform's processes get `REDIS_URL=redis-cluster://…` naming the nodes of
a cluster the test starts (tests/e2e/redis_cluster.py); Celery's broker stays
on the test's private single Redis, as it must. The `test-recorder` subscriber
counts each event's effect in Postgres, so "lost" and "doubled" are checked
per event against the log.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
import uuid

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django_redis.cache import RedisCache

from eventstore import streams
from eventstore.models import Event
from eventstore.monitoring import head_position
from eventstore.redis_location import cache_location
from tests.sample_events import THING_HAPPENED

from .faults import member, post, score, unresolved_parked, vote
from .harness import ROOT, VENV_BIN, wait_for
from .redis_cluster import LocalCluster
from .test_delivery import all_once, effects, write_events


@pytest.fixture(scope="module")
def cluster():
    running = LocalCluster()
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture
def on_cluster(platform, cluster):
    platform.extra_env["TEST_REDIS_URL"] = cluster.url
    platform.extra_env["TEST_CELERY_BROKER_URL"] = platform.redis_url  # the private single Redis
    return platform


def relayed_positions(cluster: LocalCluster) -> list[int]:
    """The position of every entry in the cluster's event streams (an entry sent twice counts twice)."""
    client = cluster.client()
    try:
        return [
            int(fields[b"position"])
            for partition in range(streams.partition_count())
            for _, fields in client.xrange(streams.partition_key(partition))
        ]
    finally:
        client.close()


def staff_session() -> str:
    """A signed-in staff member's session id (sessions live in Postgres, shared with the web process)."""
    user = get_user_model().objects.create_user(
        username=f"s{uuid.uuid4().hex[:12]}", password="staff-Horse-battery-9", is_staff=True
    )
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def open_live_feed(platform, session_key: str):
    """The dashboard's live feed (server-sent events), once it is subscribed to the cluster."""
    request = urllib.request.Request(f"http://127.0.0.1:{platform.web_ports[0]}/dashboard/live/")
    request.add_header("Cookie", f"sessionid={session_key}")
    feed = urllib.request.urlopen(request, timeout=30)  # noqa: S310
    assert feed.status == 200
    while b"connected" not in feed.readline():
        pass
    return feed


def live_frames_until(feed, needle: str, timeout: float = 60.0) -> str:
    """Read the feed's `events` frames until one names `needle` (keep-alives come every 15 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = feed.readline().decode()
        assert line, "the live feed ended"
        if line.startswith("data: ") and needle in line:
            return line
    raise AssertionError(f"no live summary naming {needle} within {timeout} s")


def test_the_flows_run_on_a_cluster_and_every_event_is_handled_once(on_cluster, cluster):
    platform = on_cluster
    start = head_position()
    platform.start_web()
    runner = platform.start_streams()
    platform.start_beat()
    platform.start_worker("cluster", concurrency=2)

    # Through the API: registration and sign-in (auth events), a post, a vote; the
    # score is a projection that a subscriber updates from the relayed events.
    token = member(platform)
    post_id = post(platform, token)
    voter = member(platform)
    feed = open_live_feed(platform, staff_session())
    assert vote(platform, voter, post_id)[0] in (200, 201)
    wait_for(lambda: score(platform, post_id) == 1, timeout=60, message="the vote in the post's score")
    live_frames_until(feed, f"vote-{post_id}")  # the relay's summary of the vote reached the dashboard
    feed.close()

    # Through the services, with the stream runner, then with Celery's workers alone.
    with_runner = write_events(60)
    wait_for(lambda: all_once(with_runner), timeout=90, interval=0.3, message="delivery by the runner")
    runner.terminate()
    by_celery = write_events(60)
    wait_for(lambda: all_once(by_celery), timeout=120, interval=0.5, message="delivery by Celery's workers")

    # Compared with the log: each recorded event handled once, and relayed (at least once).
    recorded = list(
        Event.objects.filter(position__gt=start, type=THING_HAPPENED.name).values_list("id", flat=True)
    )
    assert sorted(recorded) == sorted(event.id for event in with_runner + by_celery)
    assert effects(with_runner + by_celery) == [1] * len(recorded)
    logged = set(Event.objects.filter(position__gt=start).values_list("position", flat=True))
    assert logged <= set(relayed_positions(cluster))
    assert score(platform, post_id) == 1
    assert unresolved_parked() == 0

    # The rate-limit counters (the cache) are on the cluster, not on the broker's Redis.
    on_nodes = cluster.client()
    try:
        assert any(True for _ in on_nodes.scan_iter(match="*throttle*"))
    finally:
        on_nodes.close()
    assert not any(True for _ in platform.redis().scan_iter(match="*throttle*"))


def test_partitions_spread_over_the_primaries_with_each_partition_s_keys_on_one(cluster):
    owners = {p: cluster.owner(streams.partition_key(p)) for p in range(streams.partition_count())}
    assert len(set(owners.values())) > 1, owners
    for partition, owner in owners.items():
        keys = [
            streams.partition_wake_key(partition),
            streams.runner_key(partition),
            streams.dirty_key("test-recorder", partition),
        ]
        assert {cluster.owner(key) for key in keys} == {owner}


def test_the_cache_reads_and_writes_keys_of_every_slot(cluster):
    params = cache_location(cluster.url, 1.0)
    cache = RedisCache(params["LOCATION"], {"OPTIONS": params["OPTIONS"], "KEY_PREFIX": uuid.uuid4().hex})
    values = {f"key-{n}": n for n in range(30)}
    assert len({cluster.owner(cache.client.make_key(key)) for key in values}) == cluster.primaries
    cache.set_many(values)
    assert cache.get_many([*values, "absent"]) == values
    assert cache.incr("key-3", 4) == 7
    cache.delete_many(list(values))
    assert cache.get_many(list(values)) == {}


def test_a_cluster_without_a_broker_of_its_own_is_refused_at_start(cluster, platform):
    env = {**platform.env(), "TEST_REDIS_URL": cluster.url}
    env.pop("TEST_CELERY_BROKER_URL", None)
    result = subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "Celery's broker cannot use a Redis Cluster" in result.stderr
