"""Bodies built to hurt: too big, too deep, NUL bytes, integers beyond any column.

Every one is refused with a JSON 4xx (never a 500, never an HTML page) and
records nothing.
"""

from __future__ import annotations

import json
import uuid

import pytest
from django.conf import settings

from community_app import services as community
from platform_site.request_limits import MAX_JSON_DEPTH

pytestmark = pytest.mark.django_db


@pytest.fixture
def author_client(make_user, token_client):
    author = make_user()
    return author, token_client(author)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_the_body_limit_is_set_deliberately():
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 256 * 1024


def test_a_json_body_over_the_limit_is_refused_with_413_json_and_records_nothing(author_client, traced):
    _, client = author_client
    body = json.dumps({"title": "big", "body": "x" * (300 * 1024)})
    response, recorded = traced(
        lambda **h: client.post("/api/posts/", body, content_type="application/json", **h)
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"] == "Request body too large."
    assert recorded == []


def test_an_anonymous_oversized_registration_is_refused_before_parsing(api_client, traced):
    body = json.dumps({"username": "u" * 10, "email": "a@example.com", "password": "p" * (260 * 1024)})
    response, recorded = traced(
        lambda **h: api_client.post("/api/auth/register/", body, content_type="application/json", **h)
    )
    assert response.status_code == 413
    assert recorded == []


def test_a_multipart_upload_over_the_limit_is_refused(author_client):
    # Multipart file parts are never counted by Django's own limit; ours counts the whole body.
    from django.core.files.uploadedfile import SimpleUploadedFile

    _, client = author_client
    upload = SimpleUploadedFile("big.bin", b"\0" * (300 * 1024))
    response = client.post("/api/posts/", {"title": "t", "body": "b", "file": upload}, format="multipart")
    assert response.status_code == 413


def test_too_many_form_fields_answer_json_400(author_client):
    _, client = author_client
    form = "&".join(f"f{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = client.post("/api/posts/", form, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 100_000])
def test_deeply_nested_json_is_a_400_not_a_500(author_client, traced, depth):
    _, client = author_client
    body = '{"title": "deep", "body": ' + _nested(depth) + "}"
    response, recorded = traced(
        lambda **h: client.post("/api/posts/", body, content_type="application/json", **h)
    )
    assert response.status_code == 400
    assert "nested deeper" in response.json()["detail"]
    assert recorded == []


def test_nesting_within_the_limit_still_reaches_the_serializer(author_client):
    _, client = author_client
    body = '{"title": "shallow", "body": ' + _nested(MAX_JSON_DEPTH - 1) + "}"
    response = client.post("/api/posts/", body, content_type="application/json")
    assert response.status_code == 400
    assert "body" in response.json()  # a field error: not a string


def test_malformed_json_is_a_400(author_client):
    _, client = author_client
    response = client.post("/api/posts/", '{"title": "x", "body": ', content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


@pytest.mark.parametrize(
    "payload",
    [
        {"title": "nul\x00byte", "body": "fine"},
        {"title": "fine", "body": "nul\x00byte"},
    ],
)
def test_nul_bytes_in_text_are_field_errors(author_client, traced, payload):
    _, client = author_client
    response, recorded = traced(lambda **h: client.post("/api/posts/", payload, format="json", **h))
    assert response.status_code == 400
    assert recorded == []


def test_a_nul_byte_in_a_comment_or_username_is_refused(author_client, api_client):
    author, client = author_client
    post = community.post_create(author=author, title="t", body="b")
    comment = client.post(f"/api/posts/{post.id}/comments/", {"body": "a\x00b"}, format="json")
    register = api_client.post(
        "/api/auth/register/",
        {"username": "nul\x00name", "email": "nul@example.com", "password": "a-Long-pass-123"},
        format="json",
    )
    assert (comment.status_code, register.status_code) == (400, 400)


def test_a_nul_byte_in_a_path_or_query_is_not_a_server_error(staff, token_client):
    client = token_client(staff)
    stream = client.get("/api/events/streams/user-%00/")
    query = client.get("/api/events/", {"stream_id": "a\x00b"})
    links = client.get("/api/links/", {"domain": "exa\x00mple.com"})
    assert stream.status_code == 400
    assert query.status_code == 400
    assert links.status_code == 400


@pytest.mark.parametrize("value", [10**30, -(10**30), 2**63])
def test_integers_beyond_any_column_are_refused(author_client, staff, token_client, value):
    author, client = author_client
    post = community.post_create(author=author, title="t", body="b")
    patch = client.patch(f"/api/posts/{post.id}/", {"title": "new", "version": value}, format="json")
    vote = client.post(f"/api/posts/{post.id}/vote/", {"value": value}, format="json")
    events = token_client(staff).get("/api/events/", {"after": value})
    page = client.get("/api/posts/", {"page": value})
    assert patch.status_code in (400, 409)
    assert vote.status_code == 400
    assert events.status_code in (200, 400)  # past the end of the log is an empty page
    if events.status_code == 200:
        assert events.json()["results"] == []
    assert page.status_code == 404
    assert page["Content-Type"] == "application/json"


def test_unknown_ids_and_garbage_ids_are_json_404s(api_client):
    for path in (f"/api/posts/{uuid.uuid4()}/", "/api/posts/not-a-uuid/", "/api/links/%E2%80%AE/"):
        response = api_client.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json", path
