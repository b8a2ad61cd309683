"""Creating, listing and reading posts through the API (API.md, "Community")."""

import uuid

import pytest

from community_app.events import post_stream
from eventstore.reading import read_correlation, read_stream

pytestmark = pytest.mark.django_db

POST_KEYS = {
    "id",
    "title",
    "body",
    "author",
    "created_at",
    "updated_at",
    "score",
    "comment_count",
    "links",
    "flagged",
    "version",
}


def test_signed_in_user_creates_a_post_and_its_event(author, client_for):
    correlation_id = uuid.uuid4()
    response = client_for(author).post(
        "/api/posts/",
        {"title": "Hello", "body": "See https://Example.com/a and http://example.org."},
        format="json",
        HTTP_X_CORRELATION_ID=str(correlation_id),
    )
    assert response.status_code == 201, response.json()
    post = response.json()
    assert set(post) == POST_KEYS
    assert post["title"] == "Hello"
    assert post["author"] == {"id": author.id, "username": author.username}
    assert post["score"] == 0 and post["comment_count"] == 0 and post["flagged"] is False
    assert post["version"] == 1
    [event] = read_stream(post_stream(post["id"]))
    assert event.type == "community:post_created"
    assert event.correlation_id == correlation_id
    assert event.metadata["actor_id"] == author.id
    assert event.metadata["path"] == "/api/posts/"
    assert event.data == {
        "post_id": post["id"],
        "title": "Hello",
        "body_text": "See https://Example.com/a and http://example.org.",
        "body_format": "plain",
        "author_id": author.id,
        "author_username": author.username,
        "urls": ["https://example.com/a", "http://example.org/"],
    }


def test_the_created_post_answered_is_the_row_the_projection_stored(author, client_for):
    """The service builds the post it returns from its event instead of reading the row back:
    every field, the links included, must be what a later read of the projection gives."""
    client = client_for(author)
    created = client.post(
        "/api/posts/", {"title": "Same", "body": "Both https://example.com/x and text."}, format="json"
    ).json()
    stored = client.get(f"/api/posts/{created['id']}/").json()
    assert created == stored
    assert [link["url"] for link in created["links"]] == ["https://example.com/x"]


def test_links_of_a_new_post_show_pending_until_the_links_app_knows_them(author, client_for):
    url = f"https://{uuid.uuid4().hex}.example/page"
    response = client_for(author).post("/api/posts/", {"title": "t", "body": f"look {url}"}, format="json")
    assert response.json()["links"] == [
        {"id": None, "url": url, "status": "pending", "verdict": None, "safety_score": None}
    ]


def test_anonymous_user_cannot_post(api_client):
    correlation_id = uuid.uuid4()
    response = api_client.post(
        "/api/posts/", {"title": "t", "body": "b"}, format="json", HTTP_X_CORRELATION_ID=str(correlation_id)
    )
    assert response.status_code == 401
    assert read_correlation(correlation_id) == []


@pytest.mark.parametrize(
    "payload",
    [
        {"title": "", "body": "b"},
        {"title": "   ", "body": "b"},
        {"title": "x" * 201, "body": "b"},
        {"title": "t", "body": ""},
        {"title": "t", "body": "x" * 20_001},
        {"body": "b"},
        {"title": "t"},
        {"title": ["t"], "body": "b"},
        {"title": "t", "body": "nul \x00 byte"},
    ],
)
def test_invalid_post_is_400_and_records_nothing(author, client_for, payload):
    correlation_id = uuid.uuid4()
    response = client_for(author).post(
        "/api/posts/", payload, format="json", HTTP_X_CORRELATION_ID=str(correlation_id)
    )
    assert response.status_code == 400
    assert response.json()
    assert read_correlation(correlation_id) == []


def test_longest_allowed_title_and_body_are_accepted(author, client_for):
    response = client_for(author).post(
        "/api/posts/", {"title": "x" * 200, "body": "y" * 20_000}, format="json"
    )
    assert response.status_code == 201


def test_list_is_paginated_newest_first(api_client, make_post):
    made = [make_post(title=f"post {n}") for n in range(3)]
    response = api_client.get("/api/posts/")
    assert response.status_code == 200
    page = response.json()
    assert set(page) == {"count", "next", "previous", "results"}
    ids = [post["id"] for post in page["results"]]
    expected = [str(post.id) for post in reversed(made)]
    assert ids[:3] == expected


def test_list_pages_hold_twenty_posts(api_client, make_post):
    for n in range(21):
        make_post(title=f"post {n}")
    first = api_client.get("/api/posts/").json()
    assert len(first["results"]) == 20
    assert first["next"] is not None
    second = api_client.get(first["next"]).json()
    assert second["results"]
    assert not {p["id"] for p in first["results"]} & {p["id"] for p in second["results"]}


def test_anyone_reads_a_post(api_client, make_post):
    post = make_post(title="Readable", body="text")
    response = api_client.get(f"/api/posts/{post.id}/")
    assert response.status_code == 200
    assert response.json()["title"] == "Readable"
    assert set(response.json()) == POST_KEYS


def test_unknown_post_is_404(api_client):
    assert api_client.get(f"/api/posts/{uuid.uuid4()}/").status_code == 404
    response = api_client.get("/api/posts/not-a-uuid/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_a_page_of_posts_asks_the_links_app_once(api_client, make_post, django_assert_num_queries):
    for n in range(2):
        make_post(body=f"https://{uuid.uuid4().hex}.example/{n}")
    with django_assert_num_queries(4) as two_posts:  # count, posts, their links, link summaries
        api_client.get("/api/posts/")
    for n in range(8):
        make_post(body=f"https://{uuid.uuid4().hex}.example/{n} https://{uuid.uuid4().hex}.example/")
    with django_assert_num_queries(len(two_posts.captured_queries)):
        api_client.get("/api/posts/")
