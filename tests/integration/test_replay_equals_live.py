"""Guarantee 7: replaying the log yields exactly the state live processing produced.

A random workload runs through the apps' real services (inline projections
update live; the async event-statistics projection is fed by the real relay
and consumer over the test Redis). Then every projection is snapshotted,
`replay_events` rebuilds all of them from the log alone, and the snapshots
must be identical. `--dry-run` must report no difference before the replay.
"""

import io
import random
import re
import uuid

import pytest
from django.core.management import call_command

from auth_app.errors import InvalidCredentials
from auth_app.services import user_login, user_register
from community_app import services as community
from eventstore import streams
from eventstore.consumer import drain_subscriber_partition
from eventstore.projections import registered_projections
from eventstore.relay import relay_pending
from eventstore.replay import projection_snapshot
from links_app.services import link_scan_perform, link_scan_request, link_verify
from tests.conftest import wait_until_followable

pytestmark = pytest.mark.django_db(transaction=True)


def snapshot_all() -> dict:
    return {name: projection_snapshot(p) for name, p in sorted(registered_projections().items())}


def feed_async_projections() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT max(position) FROM eventstore_event")
        wait_until_followable(cursor.fetchone()[0])
    relay_pending()
    for projection in registered_projections().values():
        if projection.mode == "async":
            for partition in range(streams.partition_count()):
                drain_subscriber_partition(projection.name, partition)


def random_workload(rng: random.Random) -> None:
    tag = uuid.uuid4().hex[:6]
    users = [
        user_register(username=f"w{tag}{n}", email=f"w{tag}{n}@example.com", password="a-Long-pass-123")
        for n in range(4)
    ]
    moderator = user_register(
        username=f"m{tag}", email=f"m{tag}@example.com", password="a-Long-pass-123", is_staff=True
    )
    posts = []
    for step in range(60):
        action = rng.choice(
            ["post", "post", "comment", "vote", "vote", "edit", "delete", "login", "fail", "scan"]
        )
        user = rng.choice(users)
        live = [p for p in posts if not p.deleted]
        if action == "post" or not live:
            link = rng.choice(
                ["", f" see https://example-{tag}-{step}.org/page", " http://198.51.100.7/login/verify"]
            )
            posts.append(community.post_create(author=user, title=f"post {step}", body=f"body {step}{link}"))
        elif action == "comment":
            community.comment_create(author=user, post_id=rng.choice(live).id, body=f"comment {step}")
        elif action == "vote":
            community.post_vote(voter=user, post_id=rng.choice(live).id, value=rng.choice([1, -1, 0]))
        elif action == "edit":
            post = rng.choice(live)
            community.post_update(editor=post_author(post, users), post_id=post.id, body=f"edited {step}")
        elif action == "delete":
            post = rng.choice(live)
            community.post_delete(actor=moderator, post_id=post.id)
            post.deleted = True
        elif action == "login":
            user_login(username=user.username, password="a-Long-pass-123", ip="192.0.2.1", user_agent="ua")
        elif action == "fail":
            with pytest.raises(InvalidCredentials):
                user_login(username=user.username, password="wrong", ip="192.0.2.2", user_agent="ua")
        elif action == "scan":
            outcome = link_scan_request(
                url=f"https://scan-{tag}-{step % 5}.example.com/x", requested_by=user.id
            )
            link_scan_perform(scan_id=outcome.scan.id)
            if rng.random() < 0.5:
                link_verify(link_id=outcome.scan.link_id, verdict="safe", note="ok", moderator=moderator)


def post_author(post, users):
    return next(u for u in users if u.id == post.author_id)


def test_replay_rebuilds_exactly_the_live_state():
    # The log outlives each test's tables; first bring every projection in line with it.
    call_command("replay_events", "--no-input", verbosity=0)
    random_workload(random.Random(7))
    feed_async_projections()
    live = snapshot_all()
    assert any(live[name] for name in live), "the workload produced projection rows"

    dry = io.StringIO()
    call_command("replay_events", "--no-input", "--dry-run", stdout=dry, verbosity=0)
    assert "DRIFT" not in dry.getvalue() and "identical" in dry.getvalue(), dry.getvalue()

    out, progress = io.StringIO(), io.StringIO()
    call_command("replay_events", "--no-input", stdout=out, stderr=progress, verbosity=1)
    assert "Replayed" in out.getvalue() and "events/s" in out.getvalue()
    # The progress bar reached every event it announced (blue/green counts as the old replay did).
    bar = re.search(r"replay: 100%\|.*?\| (\d+)/(\d+) ", progress.getvalue())
    assert bar is not None and bar[1] == bar[2] != "0", progress.getvalue()[-500:]
    assert snapshot_all() == live


def test_dry_run_reports_a_projection_that_drifted_from_the_log(make_user):
    from community_app.models import Post

    community.post_create(author=make_user(), title="drift", body="a post to tamper with")
    call_command("replay_events", "--no-input", verbosity=0)
    Post.objects.update(score=12345)  # tamper with the read model behind the log's back
    out = io.StringIO()
    call_command(
        "replay_events", "--no-input", "--dry-run", "--projection", "community.posts", stdout=out, verbosity=0
    )
    assert "community_app_post: DRIFT" in out.getvalue() and "row(s) differ" in out.getvalue(), out.getvalue()
    assert Post.objects.filter(score=12345).exists(), "a dry run changes nothing"
    call_command("replay_events", "--no-input", "--projection", "community.posts", verbosity=0)
    assert not Post.objects.filter(score=12345).exists()
