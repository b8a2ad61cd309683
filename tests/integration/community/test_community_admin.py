"""The admin shows posts and comments read-only; its moderator actions record the API's events."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from community_app import services
from community_app.events import post_stream
from eventstore.reading import read_correlation, read_stream

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/community_app/post/"


@pytest.fixture
def admin_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user(is_staff=True, is_superuser=True))
    return client


def run_action(client: Client, action: str, posts, correlation_id: uuid.UUID):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [str(p.id) for p in posts]},
        HTTP_X_CORRELATION_ID=str(correlation_id),
    )


def test_post_and_comment_lists_render_without_add_or_delete(admin_client, make_post, author):
    post = make_post(title="Listed in admin")
    services.comment_create(author=author, post_id=post.id, body="a comment")
    listing = admin_client.get(CHANGELIST)
    assert listing.status_code == 200
    assert b"Listed in admin" in listing.content
    assert b"delete_selected" not in listing.content
    assert b"delete_as_moderator" in listing.content
    assert admin_client.get("/admin/community_app/comment/").status_code == 200
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    # The change page is view-only: posting to it changes nothing.
    admin_client.post(f"{CHANGELIST}{post.id}/change/", {"title": "Hacked", "body": "x"})
    post.refresh_from_db()
    assert post.title == "Listed in admin"


def test_moderator_delete_action_records_the_same_event_as_the_api(admin_client, make_post):
    posts = [make_post(), make_post()]
    correlation_id = uuid.uuid4()
    response = run_action(admin_client, "delete_as_moderator", posts, correlation_id)
    assert response.status_code == 302
    events = read_correlation(correlation_id)
    assert [e.type for e in events] == ["community:post_deleted"] * 2
    assert {e.data["post_id"] for e in events} == {str(p.id) for p in posts}
    assert all(e.data["by_moderator"] is True for e in events)
    assert all(e.metadata["path"] == CHANGELIST and e.metadata["method"] == "POST" for e in events)
    for post in posts:
        post.refresh_from_db()
        assert post.deleted


def test_flag_and_unflag_actions_record_events_once(admin_client, make_post):
    post = make_post()
    run_action(admin_client, "flag_as_moderator", [post], uuid.uuid4())
    run_action(admin_client, "flag_as_moderator", [post], uuid.uuid4())
    run_action(admin_client, "unflag_as_moderator", [post], uuid.uuid4())
    types = [e.type for e in read_stream(post_stream(post.id))]
    assert types == ["community:post_created", "community:post_flagged", "community:post_unflagged"]
    flagged = read_stream(post_stream(post.id))[1]
    assert flagged.data["reason"] == "flagged by a moderator"
