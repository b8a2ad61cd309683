"""SQL and HTML in every text field: stored verbatim as text, escaped on every page that shows it."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from community_app.models import Comment, Post
from eventstore.models import Event
from links_app import services as links

pytestmark = pytest.mark.django_db

SCRIPT = '<script>alert("xss")</script>'
PAYLOAD = SCRIPT + "<img src=x onerror=alert(1)>'; DROP TABLE community_app_post; -- \" OR '1'='1"
ESCAPED_SCRIPT = "&lt;script&gt;"


@pytest.fixture
def hostile_world(make_user, moderator, token_client):
    """A post, a comment and a verified link whose every free text is PAYLOAD, made through the API."""
    author = make_user()
    client = token_client(author)
    post = client.post("/api/posts/", {"title": PAYLOAD[:200], "body": PAYLOAD}, format="json").json()
    comment = client.post(f"/api/posts/{post['id']}/comments/", {"body": PAYLOAD}, format="json").json()
    scan = links.link_scan_request(
        url=f"https://h-{uuid.uuid4().hex[:10]}.example.com/", requested_by=author.pk
    )
    verified = token_client(moderator).post(
        f"/api/links/{scan.scan.link_id}/verify/", {"verdict": "malicious", "note": PAYLOAD}, format="json"
    )
    assert verified.status_code == 200
    return {"post": post, "comment": comment, "link_id": scan.scan.link_id, "verified": verified.json()}


def test_the_api_stores_and_returns_payloads_verbatim(hostile_world, api_client):
    post = api_client.get(f"/api/posts/{hostile_world['post']['id']}/").json()
    comments = api_client.get(f"/api/posts/{hostile_world['post']['id']}/comments/").json()["results"]
    assert post["title"] == PAYLOAD[:200]
    assert post["body"] == PAYLOAD
    assert comments[0]["body"] == PAYLOAD
    assert hostile_world["verified"]["verified"]["note"] == PAYLOAD
    # The SQL fragment did nothing: the table it names is still there and holds the post.
    assert Post.objects.filter(id=post["id"], body=PAYLOAD).exists()


def test_search_boxes_take_sql_as_text(staff, hostile_world):
    browser = Client()
    browser.force_login(staff)
    for url in ("/admin/community_app/post/", "/admin/community_app/comment/", "/admin/links_app/link/"):
        response = browser.get(url, {"q": "' OR 1=1; --"})
        assert response.status_code == 200, url
        assert b"0 results" in response.content, url  # matched as text, not as SQL


def _admin_pages(world) -> list[str]:
    post_id = world["post"]["id"]
    comment = Comment.objects.get(id=world["comment"]["id"])
    event = Event.objects.filter(stream_id=f"post-{post_id}").order_by("position").first()
    return [
        "/admin/community_app/post/",
        f"/admin/community_app/post/{post_id}/change/",
        "/admin/community_app/comment/",
        f"/admin/community_app/comment/{comment.pk}/change/",
        f"/admin/links_app/link/{world['link_id']}/change/",
        f"/admin/eventstore/event/{event.pk}/change/",
    ]


def test_admin_pages_escape_payloads(staff, hostile_world):
    browser = Client()
    browser.force_login(staff)
    for url in _admin_pages(hostile_world):
        response = browser.get(url)
        page = response.content.decode()
        assert response.status_code == 200, url
        assert SCRIPT not in page, url
        assert "<img src=x" not in page, url
        assert ESCAPED_SCRIPT in page, url


# Server-rendered staff pages of monitoring_app (the event explorer).
def _explorer_pages(world) -> list[str]:
    post_id = world["post"]["id"]
    event = Event.objects.filter(stream_id=f"post-{post_id}").order_by("position").first()
    return [
        f"/explorer/streams/post-{post_id}/",
        f"/explorer/correlation/{event.correlation_id}/",
        f"/explorer/?stream_id=post-{post_id}",
    ]


def test_explorer_pages_escape_payloads(staff, hostile_world):
    browser = Client()
    browser.force_login(staff)
    for url in _explorer_pages(hostile_world):
        response = browser.get(url)
        page = response.content.decode()
        assert response.status_code == 200, url
        assert SCRIPT not in page, url
        assert "<img src=x" not in page, url
