"""Read-only requests on a real streaming replica: read-your-writes, and the primary when it is gone.

A private primary and a replica made from it with pg_basebackup (both started
here, on free ports); the web server gets `DATABASE_REPLICA_URL`. Pausing the
replica's WAL replay makes it visibly behind, so a response shows which
server answered: a post written meanwhile is on the primary only.
"""

from __future__ import annotations

import shutil
import uuid

import pytest

from .harness import Platform, wait_for
from .private_postgres import PrivateCluster, temporary_parent

PASSWORD = "correct-Horse-battery-9"


@pytest.fixture(scope="module")
def replicated():
    parent = temporary_parent()
    primary = PrivateCluster.create(parent)
    primary.start()
    replica = None
    platform = None
    try:
        primary.sql("CREATE DATABASE platform")
        replica = primary.standby()
        replica.start()
        platform = Platform(
            database_name="platform",
            name="read-replica",
            database_url=primary.url("platform"),
            extra_env={"DATABASE_REPLICA_URL": replica.url("platform"), "REPLICA_STICKY_SECONDS": "600"},
        )
        platform.manage("migrate", "--no-input", "-v", "0")
        platform.start_redis()
        platform.start_web()
        yield platform, primary, replica
    finally:
        if platform is not None:
            platform.stop()
        for cluster in (replica, primary):
            if cluster is not None and cluster.running():
                cluster.stop("immediate")
        shutil.rmtree(parent, ignore_errors=True)


def sign_up(platform: Platform) -> str:
    username = f"r{uuid.uuid4().hex[:10]}"
    status, body, _ = platform.request(
        "POST",
        "/api/auth/register/",
        {"username": username, "email": f"{username}@example.com", "password": PASSWORD},
    )
    assert status == 201, body
    status, body, _ = platform.request(
        "POST", "/api/auth/login/", {"username": username, "password": PASSWORD}
    )
    assert status == 200, body
    return body["token"]


def write_post(platform: Platform, token: str) -> str:
    status, body, _ = platform.request(
        "POST",
        "/api/posts/",
        {"title": "On the primary", "body": "Written while replay was paused."},
        token=token,
    )
    assert status == 201, body
    return body["id"]


def test_a_writer_reads_its_own_write_while_other_readers_are_served_by_the_replica(replicated):
    platform, _, replica = replicated
    writer, reader = sign_up(platform), sign_up(platform)
    replica.sql("SELECT pg_wal_replay_pause()")
    try:
        post_id = write_post(platform, writer)

        status, body, _ = platform.request("GET", f"/api/posts/{post_id}/", token=writer)
        assert status == 200 and body["id"] == post_id, "the writer must read its own write at once"
        # The reader has written nothing: its reads come from the paused replica.
        status, _, _ = platform.request("GET", f"/api/posts/{post_id}/", token=reader)
        assert status == 404
        status, body, _ = platform.request("GET", "/api/posts/", token=reader)
        assert post_id not in {post["id"] for post in body["results"]}
    finally:
        replica.sql("SELECT pg_wal_replay_resume()")

    wait_for(
        lambda: platform.request("GET", f"/api/posts/{post_id}/", token=reader)[0] == 200,
        timeout=30,
        message="the replica to replay the post",
    )


def test_a_token_issued_a_moment_ago_works_although_the_replica_lags(replicated):
    platform, _, replica = replicated
    replica.sql("SELECT pg_wal_replay_pause()")
    try:
        # Registration, sign-in and the token lookup all happen while the replica lags.
        token = sign_up(platform)
        status, body, _ = platform.request("GET", "/api/auth/me/", token=token)
        assert status == 200, body
    finally:
        replica.sql("SELECT pg_wal_replay_resume()")


def test_the_stream_runner_refuses_to_follow_the_log_on_a_standby(replicated):
    """Gap-safety (guarantee 5) needs the primary's running transactions: a standby has none."""
    import subprocess

    from .harness import ROOT, VENV_BIN

    platform, _, replica = replicated
    result = subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", "run_event_streams"],
        cwd=ROOT,
        env={**platform.env(), "DATABASE_URL": replica.url("platform")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "followed on a standby (pg_is_in_recovery())" in result.stderr


def test_reads_fall_back_to_the_primary_when_the_replica_stops(replicated):
    platform, _, replica = replicated
    writer, reader = sign_up(platform), sign_up(platform)
    post_id = write_post(platform, writer)
    wait_for(
        lambda: platform.request("GET", f"/api/posts/{post_id}/", token=reader)[0] == 200,
        timeout=30,
        message="the replica to replay the post",
    )

    replica.stop("immediate")

    for _ in range(3):  # the first finds the replica gone, the next skip it
        status, body, _ = platform.request("GET", f"/api/posts/{post_id}/", token=reader)
        assert status == 200 and body["id"] == post_id, body
    status, _, _ = platform.request("GET", "/api/posts/", token=reader)
    assert status == 200
    web_log = "\n".join(process.log() for process in platform.processes if process.name.startswith("web"))
    assert "read replica unreachable, reading from the primary" in web_log
