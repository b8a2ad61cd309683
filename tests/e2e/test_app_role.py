"""The whole platform runs as the least-privileged application role (guarantee 2, issue 18 item 2).

Web servers, a Celery worker, beat and the stream runner all connect as the
role that `setup_roles` prepares; a post with a link, a vote and a moderator's
verification go through the API,
and a replay rebuilds projections as that role; the relay delivers them and the subscribers
(links, scanner, community) update what members read.
"""

import io
import uuid

from django.core.management import call_command
from django.db import connection

from tests.app_role import app_role_database_url, app_role_name, ensure_app_role

from .harness import wait_for
from .test_flows import flagged, post_with_link


def test_every_process_works_as_the_app_role(platform, accounts):
    # Earlier tests' posts and votes stay in the log while their rows were flushed: rebuilt
    # first, both projections equal the log, and the audit below judges what this test did.
    call_command(
        "replay_events",
        "--projection",
        "community.posts",
        "--projection",
        "community.votes",
        "--no-input",
        stdout=io.StringIO(),
    )
    ensure_app_role()
    platform.database_url = app_role_database_url()
    platform.start_web()
    platform.start_worker("app-role")
    platform.start_beat()
    platform.start_streams()
    member = accounts.member(f"poster{uuid.uuid4().hex[:6]}")
    voter = accounts.member(f"voter{uuid.uuid4().hex[:6]}")
    staff = accounts.staff(f"staff{uuid.uuid4().hex[:6]}")

    post = post_with_link(platform, member, uuid.uuid4())
    status, body, _ = platform.request("POST", f"/api/posts/{post['id']}/vote/", {"value": 1}, token=voter)
    assert status in (200, 201), body
    wait_for(lambda: flagged(platform, post["id"]), timeout=90, message="the subscribers to flag the post")
    assert platform.request("GET", f"/api/posts/{post['id']}/")[1]["score"] == 1

    link_id = platform.request("GET", f"/api/posts/{post['id']}/")[1]["links"][0]["id"]
    status, body, _ = platform.request(
        "POST", f"/api/links/{link_id}/verify/", {"verdict": "safe", "note": "checked"}, token=staff
    )
    assert status == 200, body
    wait_for(lambda: not flagged(platform, post["id"]), timeout=90, message="the post to be unflagged")
    wait_for(
        lambda: platform.request("GET", "/health/")[1].get("checks", {}).get("relay_lag") == 0,
        timeout=60,
        message="the relay to have delivered everything",
    )
    # The audit as the app role (temporary tables) finds what live processing did equal to the log;
    # a rebuild swaps tables in, which is the owner's business (docs/deploy.md).
    before = platform.request("GET", f"/api/posts/{post['id']}/")[1]
    audit = platform.manage(
        "verify_projections", "--projection", "community.posts", "--projection", "community.votes"
    )
    assert "equal the log" in audit, audit
    assert platform.request("GET", f"/api/posts/{post['id']}/")[1] == before

    # The runner holds its connection (its advisory locks live in it): it is the app role's.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND datname = current_database()",
            [app_role_name()],
        )
        assert cursor.fetchone()[0] >= 1
    for process in platform.processes:
        assert "permission denied" not in process.log(), process.name
