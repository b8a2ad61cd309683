"""Write endpoints share the `write` rate limit (REST_FRAMEWORK DEFAULT_THROTTLE_RATES["write"]).

The test settings raise the rate so other tests never trip it; here it is lowered
to 3 a minute. A fresh user per test is a fresh counter (throttles key on the user id).
"""

from __future__ import annotations

import uuid

import pytest
from rest_framework.throttling import ScopedRateThrottle

from community_app import services as community
from links_app import services as links

pytestmark = pytest.mark.django_db
RATE = 3


@pytest.fixture(autouse=True)
def low_write_rate(monkeypatch):
    # DRF copies the rates onto the class when it is imported, so override_settings cannot reach them.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"write": f"{RATE}/min"})


@pytest.fixture
def world(make_user, moderator):
    author = make_user()
    post = community.post_create(author=author, title="t", body="b")
    scan = links.link_scan_request(
        url=f"https://rl-{uuid.uuid4().hex[:10]}.example.com/", requested_by=author.pk
    )
    return {"author": author, "moderator": moderator, "post_id": post.id, "link_id": scan.scan.link_id}


def _writes(world):
    post, link = world["post_id"], world["link_id"]
    return {
        "create post": ("author", "post", "/api/posts/", {"title": "t", "body": "b"}),
        "edit post": ("author", "patch", f"/api/posts/{post}/", {"body": "edited"}),
        "comment": ("author", "post", f"/api/posts/{post}/comments/", {"body": "c"}),
        "vote": ("author", "post", f"/api/posts/{post}/vote/", {"value": 1}),
        "scan": ("author", "post", "/api/links/scans/", {"url": "https://example.org/x", "rescan": True}),
        "verify": ("moderator", "post", f"/api/links/{link}/verify/", {"verdict": "safe", "note": ""}),
        "password": ("author", "post", "/api/auth/password/", {"old_password": "wrong", "new_password": "x"}),
    }


@pytest.mark.parametrize(
    "write", ["create post", "edit post", "comment", "vote", "scan", "verify", "password"]
)
def test_a_write_endpoint_answers_429_past_the_rate(world, token_client, traced, write):
    role, method, path, body = _writes(world)[write]
    client = token_client(world[role])
    send = getattr(client, method)
    answers = [send(path, body, format="json").status_code for _ in range(RATE)]
    refused, recorded = traced(lambda **h: send(path, body, format="json", **h))
    assert 429 not in answers
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert recorded == []


def test_reads_are_not_limited(world, token_client):
    client = token_client(world["author"])
    answers = {client.get(f"/api/posts/{world['post_id']}/").status_code for _ in range(RATE * 3)}
    assert answers == {200}


def test_the_limit_is_per_user(world, token_client, make_user):
    first, second = token_client(world["author"]), token_client(make_user())
    for _ in range(RATE):
        first.post("/api/posts/", {"title": "t", "body": "b"}, format="json")
    assert first.post("/api/posts/", {"title": "t", "body": "b"}, format="json").status_code == 429
    assert second.post("/api/posts/", {"title": "t", "body": "b"}, format="json").status_code == 201
