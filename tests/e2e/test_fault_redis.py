"""Redis stopped and started again under a running platform: nothing lost, nothing doubled, no human.

The private Redis keeps nothing on disk, so the one that comes back is empty:
the streams, consumer groups, queued Celery tasks and the runner's keys are all
gone, as after the worst restart. Events committed meanwhile wait in Postgres.
Recovery is measured from the moment Redis answers again.
"""

from __future__ import annotations

import time

from .faults import dangerous_url, flagged, flags_recorded, member, recovered, unresolved_parked
from .harness import wait_for
from .test_delivery import all_once, write_events

OUTAGE_SECONDS = 3.0  # long enough for every loop to fail and back off to its longest pause
RUNNER_LOOPS = 6  # relay, 4 partitions, heartbeat: each may log the outage once


def dangerous_posts(platform, token, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        status, created, _ = platform.request(
            "POST", "/api/posts/", {"title": "Refund", "body": f"See {dangerous_url()}"}, token=token
        )
        assert status == 201, created  # written while Redis is down: the events wait in Postgres
        ids.append(created["id"])
    return ids


def outage(platform, token):
    """Stop Redis, commit events and posts meanwhile, start it again; return (events, posts, up_at)."""
    platform.stop_redis()
    status, _, _ = platform.request("GET", "/health/")
    assert status == 503
    events = write_events(40)
    posts = dangerous_posts(platform, token, 2)
    time.sleep(OUTAGE_SECONDS)
    platform.start_redis()
    return events, posts, time.monotonic()


def test_the_stream_runner_alone_delivers_what_was_committed_while_redis_was_down(platform):
    platform.start_web()
    runner = platform.start_streams()
    token = member(platform)
    before = write_events(40)
    wait_for(lambda: all_once(before), timeout=60, message="delivery before the outage")

    during, posts, up_at = outage(platform, token)

    recovered(
        "Redis restart, stream runner alone: events of the outage delivered",
        up_at,
        lambda: all_once(before + during),
        timeout=30,
    )
    recovered(
        "Redis restart, stream runner alone: dangerous posts of the outage flagged",
        up_at,
        lambda: all(flagged(platform, post_id) for post_id in posts),
        timeout=30,
    )
    after = write_events(20)
    wait_for(lambda: all_once(after), timeout=15, message="fresh commits delivered at once")
    assert all_once(before + during + after), "no event had a second effect"
    assert flags_recorded(posts) == {post_id: 1 for post_id in posts}
    assert unresolved_parked() == 0
    # One line when Redis went away and one when it was back, per loop; not one per retry.
    log = runner.log()
    assert 1 <= log.count("Redis unavailable") <= RUNNER_LOOPS, log[-3000:]
    assert "Redis available again after" in log


def test_with_celery_and_the_runner_as_the_procfile_runs_them_redis_restarts_cost_nothing(platform):
    platform.start_web()
    platform.start_streams()
    platform.start_beat()
    platform.start_worker("redis-fault", concurrency=2)
    token = member(platform)
    before = write_events(40)
    wait_for(lambda: all_once(before), timeout=60, message="delivery before the outage")

    during, posts, up_at = outage(platform, token)

    recovered(
        "Redis restart, runner and Celery: events of the outage delivered",
        up_at,
        lambda: all_once(before + during),
        timeout=30,
    )
    recovered(
        "Redis restart, runner and Celery: dangerous posts of the outage flagged",
        up_at,
        lambda: all(flagged(platform, post_id) for post_id in posts),
        timeout=30,
    )
    assert all_once(before + during)
    assert flags_recorded(posts) == {post_id: 1 for post_id in posts}
    assert unresolved_parked() == 0


def test_celery_alone_delivers_what_was_committed_while_redis_was_down(platform):
    platform.start_web()
    platform.start_beat()
    worker = platform.start_worker("redis-fault-celery", concurrency=2)
    token = member(platform)
    before = write_events(40)
    wait_for(lambda: all_once(before), timeout=60, message="delivery before the outage")

    during, posts, up_at = outage(platform, token)

    recovered(
        "Redis restart, Celery alone: events of the outage delivered",
        up_at,
        lambda: all_once(before + during),
        timeout=60,
        interval=0.2,
    )
    recovered(
        "Redis restart, Celery alone: dangerous posts of the outage flagged",
        up_at,
        lambda: all(flagged(platform, post_id) for post_id in posts),
        timeout=60,
        interval=0.2,
    )
    assert all_once(before + during)
    assert flags_recorded(posts) == {post_id: 1 for post_id in posts}
    assert unresolved_parked() == 0
    # The worker reconnected by itself (platform_site/broker_reconnect.py), rather
    # than hanging after kombu's "Unrecoverable error".
    log = worker.log()
    assert worker.alive() and "Unrecoverable error" not in log
    assert log.count("Connected to redis://") >= 2, log[-3000:]
