"""PostgreSQL crashed or restarted under a running platform: 503s meanwhile, then everything resumes.

A private cluster (tests/e2e/private_postgres.py) started here, with the
platform as the Procfile runs it (web, stream runner, a Celery worker, beat)
on it. While the server is down the API answers 503 with Retry-After and a
JSON reason, health names the database, and no process exits; once it is
back, requests succeed again and everything committed before the crash is
delivered, without restarting anything. Counted exactly: a post's score after
every member voted once (some before the crash, some after), one
`community:post_flagged` per dangerous post, nothing parked, relay lag 0.
Demo traffic from `manage.py simulate` with several workers rides the outage
out and says so once.
"""

from __future__ import annotations

import shutil
import time

import pytest

from .faults import (
    dangerous_url,
    flagged,
    forget_registration_limits,
    member,
    open_transaction,
    post,
    recovered,
    score,
    vote,
)
from .harness import Platform, wait_for
from .private_postgres import PrivateCluster, temporary_parent

MEMBERS = 6
EVENTS_IN_LOG = "SELECT count(*) FROM eventstore_event"
IDLE_IN_TRANSACTION = (
    "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' AND backend_xid IS NOT NULL"
)


@pytest.fixture(scope="module")
def on_private_postgres():
    parent = temporary_parent()
    cluster = PrivateCluster.create(parent)
    cluster.start()
    platform = None
    try:
        cluster.sql("CREATE DATABASE platform")
        platform = Platform(
            database_name="platform", name="fault-postgres", database_url=cluster.url("platform")
        )
        platform.manage("migrate", "--no-input", "-v", "0")
        platform.start_redis()
        platform.start_web()
        platform.start_streams()
        platform.start_beat()
        platform.start_worker("pg-fault", concurrency=2)
        yield platform, cluster
    finally:
        if platform is not None:
            platform.stop()
        if cluster.running():
            cluster.stop("immediate")
        shutil.rmtree(parent, ignore_errors=True)


def flags_in_log(cluster: PrivateCluster, post_ids: list[str]) -> int:
    streams = ",".join(f"'post-{post_id}'" for post_id in post_ids)
    return int(
        cluster.sql(
            f"SELECT count(*) FROM eventstore_event WHERE type = 'community:post_flagged' AND stream_id IN ({streams})",
            "platform",
        )
    )


def flags_since_start(cluster: PrivateCluster, post_ids: list[str]) -> int:
    """Of those flags, how many the platform recorded after this server start (after the outage)."""
    streams = ",".join(f"'post-{post_id}'" for post_id in post_ids)
    return int(
        cluster.sql(
            "SELECT count(*) FROM eventstore_event WHERE type = 'community:post_flagged'"
            f" AND stream_id IN ({streams}) AND recorded_at > pg_postmaster_start_time()",
            "platform",
        )
    )


def unresolved_parked(cluster: PrivateCluster) -> int:
    return int(
        cluster.sql("SELECT count(*) FROM eventstore_parkedevent WHERE resolved_at IS NULL", "platform")
    )


def relay_lag(platform: Platform):
    status, body, _ = platform.request("GET", "/health/")
    return body.get("checks", {}).get("relay_lag") if status == 200 else None


def dangerous_post(platform: Platform, token: str) -> str:
    status, created, _ = platform.request(
        "POST", "/api/posts/", {"title": "Refund", "body": f"See {dangerous_url()}"}, token=token
    )
    assert status == 201, created
    return created["id"]


@pytest.mark.parametrize("mode", ["immediate", "fast"], ids=["crash", "restart"])
def test_the_api_answers_503_while_postgres_is_down_and_everything_resumes_by_itself(
    on_private_postgres, mode
):
    platform, cluster = on_private_postgres
    forget_registration_limits(platform)
    tokens = [member(platform) for _ in range(MEMBERS)]
    target = post(platform, tokens[0])
    for token in tokens[:3]:
        assert vote(platform, token, target)[0] == 200
    wait_for(lambda: relay_lag(platform) == 0, timeout=60, message="the relay to catch up before the crash")
    # Long enough to act before, during and after the outage below, once it has begun acting.
    logged = int(cluster.sql(EVENTS_IN_LOG, "platform"))
    simulate = platform.start_manage(
        "simulate", "simulate", "--workers", "3", "--rate", "6", "--duration", "20", "--seed", "5"
    )
    wait_for(
        lambda: int(cluster.sql(EVENTS_IN_LOG, "platform")) >= logged + 3,
        timeout=60,
        message="the simulation's first actions",
    )

    # Committed before the server goes away, behind a transaction left open (a
    # stuck client): certainly not yet delivered when it goes.
    with open_transaction(cluster.port, "platform"):
        wait_for(
            lambda: int(cluster.sql(IDLE_IN_TRANSACTION, "platform")) >= 1,
            timeout=10,
            message="the open transaction",
        )
        backlog = [dangerous_post(platform, tokens[0]) for _ in range(2)]
        cluster.stop(mode)  # immediate: no shutdown checkpoint, crash recovery at the next start

    status, body, headers = platform.request(
        "POST", f"/api/posts/{target}/vote/", {"value": 1}, token=tokens[3]
    )
    assert status == 503, body
    assert headers.get("Retry-After") == "2" and "database is unavailable" in body["detail"]
    status, body, _ = platform.request("GET", "/health/")
    assert status == 503 and "database" in body["failing"]
    time.sleep(2)  # the runner's and workers' loops meet the outage and back off

    cluster.start()
    up_at = time.monotonic()
    recovered(
        f"PostgreSQL {mode}: the API answers writes again",
        up_at,
        lambda: vote(platform, tokens[3], target)[0] == 200,
        timeout=30,
    )
    for token in tokens[4:]:
        assert vote(platform, token, target)[0] == 200
    recovered(
        f"PostgreSQL {mode}: posts committed before it flagged",
        up_at,
        lambda: all(flagged(platform, post_id) for post_id in backlog),
        timeout=60,
    )
    wait_for(lambda: relay_lag(platform) == 0, timeout=30, message="relay lag 0 after the outage")

    assert score(platform, target) == MEMBERS, "every vote counted once"
    assert flags_in_log(cluster, backlog) == len(backlog), "one flag per dangerous post"
    # The scans and flags came after the outage: the backlog did span it.
    assert flags_since_start(cluster, backlog) == len(backlog)
    assert unresolved_parked(cluster) == 0
    assert simulate.popen.wait(60) == 0, simulate.log()
    said = simulate.log()
    # Every worker met the outage; the command said so once, and once that it was over.
    assert said.count("database unavailable, actions fail until it is back") == 1, said
    assert said.count("database available again after") == 1, said
    assert "failed_database_unavailable" in said and "vote" in said, said
    # Every process but the finished simulations (one per test on this module's platform).
    assert all(
        process.alive()
        for process in platform.processes
        if process.name.split("-")[0] not in ("redis", "simulate")
    )
    runner = next(process for process in platform.processes if process.name == "streams")
    log = runner.log()
    assert "PostgreSQL unavailable" in log and "PostgreSQL available again after" in log
    # Beat's sweep, every 2 s, says so once per pool process instead of a traceback per run.
    worker = next(process for process in platform.processes if process.name == "worker-pg-fault")
    assert "eventstore.tasks.sweep[" not in "".join(
        line for line in worker.log().splitlines(keepends=True) if "raised unexpected" in line
    )
