"""Editing (author only, optimistic concurrency) and deleting (author or moderator) posts."""

import uuid

import pytest

from community_app import services
from community_app.events import post_stream
from eventstore.reading import read_correlation, read_stream

pytestmark = pytest.mark.django_db


def test_author_edits_and_the_event_has_before_and_after(author, client_for, make_post):
    post = make_post(title="Old", body="same body")
    response = client_for(author).patch(f"/api/posts/{post.id}/", {"title": "New"}, format="json")
    assert response.status_code == 200
    assert response.json()["title"] == "New"
    assert response.json()["version"] == 2
    _created, updated = read_stream(post_stream(post.id))
    assert updated.type == "community:post_updated"
    assert updated.stream_version == 2
    assert updated.data == {
        "post_id": str(post.id),
        "changed": {"title": {"before": "Old", "after": "New"}},
        "urls": None,
        "editor_id": author.id,
    }


def test_editing_the_body_lists_its_new_links(author, client_for, make_post):
    post = make_post(body="https://one.example/")
    response = client_for(author).patch(
        f"/api/posts/{post.id}/", {"body": "now https://two.example/x"}, format="json"
    )
    assert [link["url"] for link in response.json()["links"]] == ["https://two.example/x"]
    updated = read_stream(post_stream(post.id))[-1]
    assert updated.data["urls"] == ["https://two.example/x"]
    assert updated.data["changed"] == {
        "body": {"before": "https://one.example/", "after": "now https://two.example/x"}
    }


def test_the_edited_post_answered_is_what_a_read_gives_after_the_edit(author, client_for, make_post):
    """The edit's answer is built from the post its own transaction read (no second read after it)."""
    post = make_post(body="Old https://example.com/old")
    client = client_for(author)
    edited = client.patch(
        f"/api/posts/{post.id}/", {"title": "New", "body": "Now https://example.com/new"}, format="json"
    ).json()
    assert edited == client.get(f"/api/posts/{post.id}/").json()
    assert edited["title"] == "New" and edited["version"] == 2
    assert [link["url"] for link in edited["links"]] == ["https://example.com/new"]


def test_edit_that_changes_nothing_records_nothing(author, client_for, make_post, stream_types):
    post = make_post(title="Same", body="Same body")
    response = client_for(author).patch(
        f"/api/posts/{post.id}/", {"title": "Same", "body": "Same body"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["version"] == 1
    assert stream_types(post_stream(post.id)) == ["community:post_created"]


def test_someone_else_cannot_edit(stranger, moderator, client_for, make_post, stream_types):
    post = make_post(title="Mine")
    for user in (stranger, moderator):
        response = client_for(user).patch(f"/api/posts/{post.id}/", {"title": "Yours"}, format="json")
        assert response.status_code == 403
        assert response.json() == {"detail": "Only the author can edit a post."}
    assert stream_types(post_stream(post.id)) == ["community:post_created"]


def test_anonymous_cannot_edit(api_client, make_post):
    post = make_post()
    assert api_client.patch(f"/api/posts/{post.id}/", {"title": "x"}, format="json").status_code == 401


def test_edit_with_the_current_version_succeeds(author, client_for, make_post):
    post = make_post(title="v1")
    response = client_for(author).patch(
        f"/api/posts/{post.id}/", {"title": "v2", "version": 1}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["version"] == 2


def test_edit_with_a_stale_version_is_409_and_changes_nothing(author, client_for, make_post):
    post = make_post(title="v1")
    client = client_for(author)
    assert (
        client.patch(f"/api/posts/{post.id}/", {"title": "v2", "version": 1}, format="json").status_code
        == 200
    )
    response = client.patch(f"/api/posts/{post.id}/", {"title": "stale", "version": 1}, format="json")
    assert response.status_code == 409
    assert response.json()["current_version"] == 2
    assert client.get(f"/api/posts/{post.id}/").json()["title"] == "v2"
    assert len(read_stream(post_stream(post.id))) == 2


def test_a_flag_moves_the_version_so_an_edit_based_on_the_old_one_conflicts(author, client_for, make_post):
    post = make_post()
    services.post_flag(post_id=post.id, reason="test")
    response = client_for(author).patch(f"/api/posts/{post.id}/", {"title": "x", "version": 1}, format="json")
    assert response.status_code == 409


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"version": 1},
        {"title": ""},
        {"title": "x" * 201},
        {"body": "x" * 20_001},
        {"title": "t", "version": 0},
    ],
)
def test_invalid_edit_is_400_and_records_nothing(author, client_for, make_post, payload):
    post = make_post()
    correlation_id = uuid.uuid4()
    response = client_for(author).patch(
        f"/api/posts/{post.id}/", payload, format="json", HTTP_X_CORRELATION_ID=str(correlation_id)
    )
    assert response.status_code == 400
    assert read_correlation(correlation_id) == []


def test_author_deletes_and_the_post_is_gone_for_every_verb(author, client_for, make_post, stream_types):
    post = make_post()
    client = client_for(author)
    assert client.delete(f"/api/posts/{post.id}/").status_code == 204
    assert client.get(f"/api/posts/{post.id}/").status_code == 404
    assert client.patch(f"/api/posts/{post.id}/", {"title": "x"}, format="json").status_code == 404
    assert client.delete(f"/api/posts/{post.id}/").status_code == 404
    assert client.get(f"/api/posts/{post.id}/comments/").status_code == 404
    assert client.post(f"/api/posts/{post.id}/comments/", {"body": "hi"}, format="json").status_code == 404
    assert client.post(f"/api/posts/{post.id}/vote/", {"value": 1}, format="json").status_code == 404
    assert str(post.id) not in {p["id"] for p in client.get("/api/posts/").json()["results"]}
    # The events stay: deleting is one more event, not an erasure.
    assert stream_types(post_stream(post.id)) == ["community:post_created", "community:post_deleted"]


def test_deleted_event_names_who_deleted(author, client_for, make_post):
    post = make_post()
    client_for(author).delete(f"/api/posts/{post.id}/")
    deleted = read_stream(post_stream(post.id))[-1]
    assert deleted.data == {
        "post_id": str(post.id),
        "deleted_by": author.id,
        "deleted_by_username": author.username,
        "by_moderator": False,
    }


def test_moderator_deletes_someone_elses_post(moderator, client_for, make_post):
    post = make_post()
    assert client_for(moderator).delete(f"/api/posts/{post.id}/").status_code == 204
    deleted = read_stream(post_stream(post.id))[-1]
    assert deleted.data["by_moderator"] is True
    assert deleted.data["deleted_by"] == moderator.id


def test_staff_count_as_moderators(make_user, client_for, make_post):
    staff = make_user(is_staff=True)
    post = make_post()
    assert client_for(staff).delete(f"/api/posts/{post.id}/").status_code == 204


def test_someone_else_cannot_delete(stranger, client_for, make_post, stream_types):
    post = make_post()
    assert client_for(stranger).delete(f"/api/posts/{post.id}/").status_code == 403
    assert stream_types(post_stream(post.id)) == ["community:post_created"]


def test_anonymous_cannot_delete(api_client, make_post):
    post = make_post()
    assert api_client.delete(f"/api/posts/{post.id}/").status_code == 401
