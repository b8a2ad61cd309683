"""Commenting on posts: signed-in users write, anyone reads, oldest first."""

import uuid

import pytest

from community_app import services
from community_app.events import comment_stream
from eventstore.reading import read_correlation, read_stream

pytestmark = pytest.mark.django_db


def test_signed_in_user_comments_and_the_event_names_the_post(stranger, client_for, make_post):
    post = make_post()
    response = client_for(stranger).post(f"/api/posts/{post.id}/comments/", {"body": "Nice"}, format="json")
    assert response.status_code == 201
    comment = response.json()
    assert set(comment) == {"id", "body", "author", "created_at"}
    assert comment["author"] == {"id": stranger.id, "username": stranger.username}
    [event] = read_stream(comment_stream(comment["id"]))
    assert event.type == "community:comment_created"
    assert event.data == {
        "comment_id": comment["id"],
        "post_id": str(post.id),
        "body": "Nice",
        "author_id": stranger.id,
        "author_username": stranger.username,
    }


def test_comments_are_listed_oldest_first_and_counted(api_client, author, stranger, make_post):
    post = make_post()
    first = services.comment_create(author=stranger, post_id=post.id, body="first")
    second = services.comment_create(author=author, post_id=post.id, body="second")
    page = api_client.get(f"/api/posts/{post.id}/comments/").json()
    assert page["count"] == 2
    assert [c["id"] for c in page["results"]] == [str(first.id), str(second.id)]
    assert api_client.get(f"/api/posts/{post.id}/").json()["comment_count"] == 2


def test_comments_of_other_posts_are_not_listed(api_client, author, make_post):
    post, other = make_post(), make_post()
    services.comment_create(author=author, post_id=other.id, body="elsewhere")
    assert api_client.get(f"/api/posts/{post.id}/comments/").json()["count"] == 0


def test_anonymous_cannot_comment(api_client, make_post):
    post = make_post()
    assert api_client.post(f"/api/posts/{post.id}/comments/", {"body": "x"}, format="json").status_code == 401


def test_comment_on_unknown_post_is_404(stranger, client_for):
    client = client_for(stranger)
    response = client.post(f"/api/posts/{uuid.uuid4()}/comments/", {"body": "x"}, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such post."}
    assert client.get(f"/api/posts/{uuid.uuid4()}/comments/").status_code == 404


@pytest.mark.parametrize("payload", [{}, {"body": ""}, {"body": "  "}, {"body": "x" * 5_001}, {"body": None}])
def test_invalid_comment_is_400_and_records_nothing(stranger, client_for, make_post, payload):
    post = make_post()
    correlation_id = uuid.uuid4()
    response = client_for(stranger).post(
        f"/api/posts/{post.id}/comments/", payload, format="json", HTTP_X_CORRELATION_ID=str(correlation_id)
    )
    assert response.status_code == 400
    assert read_correlation(correlation_id) == []


def test_longest_allowed_comment_is_accepted(stranger, client_for, make_post):
    post = make_post()
    response = client_for(stranger).post(
        f"/api/posts/{post.id}/comments/", {"body": "x" * 5_000}, format="json"
    )
    assert response.status_code == 201
