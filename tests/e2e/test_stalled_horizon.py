"""A session idling in its transaction stalls delivery visibly, and delivery resumes when it ends.

Guarantee 10 with the real processes: web and the stream runner run, a
second session of the platform's database writes and then idles in its
transaction. A post made meanwhile commits, but the relay and the
subscribers cannot pass the horizon: /health/ says "degraded" and names the
session while the relay's lag still reads 0. Once the session ends, the post
is relayed and its link flagged by the subscribers.
"""

import time
import uuid

import psycopg
from django.db import connection

from .harness import wait_for
from .test_flows import flagged, post_with_link

PROBE_NAME = "forgotten-psql"


def test_an_idle_writer_shows_in_health_and_delivery_resumes_once_it_ends(platform, accounts):
    platform.extra_env["HORIZON_STALL_SECONDS"] = "1"
    platform.start_web()
    platform.start_streams()
    member = accounts.member(f"poster{uuid.uuid4().hex[:6]}")
    settings = connection.settings_dict
    idle = psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname=settings["NAME"],
        application_name=PROBE_NAME,
    )
    try:
        idle.execute("SELECT pg_current_xact_id()")  # a write's transaction id, then nothing
        post = post_with_link(platform, member, uuid.uuid4())

        def stalled():
            status, body, _ = platform.request("GET", "/health/")
            return status == 200 and body["status"] == "degraded" and body

        body = wait_for(stalled, timeout=30, message="/health/ to report the stalled horizon")
        horizon = body["checks"]["horizon"]
        assert horizon["holder"]["pid"] == idle.info.backend_pid
        assert horizon["holder"]["application_name"] == PROBE_NAME
        assert horizon["holder"]["state"] == "idle in transaction"
        assert horizon["events_waiting"] >= 1
        assert body["checks"]["relay_lag"] == 0  # what the platform reported before: all well
        assert not flagged(platform, post["id"])
    finally:
        idle.rollback()
        released = time.monotonic()
        idle.close()
    wait_for(lambda: flagged(platform, post["id"]), timeout=60, message="delivery to resume")
    print(f"post flagged {time.monotonic() - released:.2f} s after the idle transaction ended")
    status, body, _ = platform.request("GET", "/health/")
    assert status == 200 and body["status"] == "ok", body
