"""Voting: 1, -1 or 0 (removes); an event per change, none when nothing changes."""

import uuid

import pytest

from community_app.events import vote_stream
from eventstore.reading import read_correlation, read_stream

pytestmark = pytest.mark.django_db


def vote(client, post, value):
    return client.post(f"/api/posts/{post.id}/vote/", {"value": value}, format="json")


def test_vote_create_update_remove_are_recorded_with_old_and_new_value(stranger, client_for, make_post):
    post = make_post()
    client = client_for(stranger)
    assert vote(client, post, 1).json() == {"score": 1, "my_vote": 1}
    assert vote(client, post, -1).json() == {"score": -1, "my_vote": -1}
    assert vote(client, post, 0).json() == {"score": 0, "my_vote": 0}
    assert vote(client, post, 1).json() == {"score": 1, "my_vote": 1}
    events = read_stream(vote_stream(post.id, stranger.id))
    assert [(e.data["action"], e.data["old_value"], e.data["new_value"]) for e in events] == [
        ("create", 0, 1),
        ("update", 1, -1),
        ("remove", -1, 0),
        ("create", 0, 1),
    ]
    assert all(e.data["post_id"] == str(post.id) and e.data["voter_id"] == stranger.id for e in events)


def test_vote_that_changes_nothing_records_nothing(stranger, client_for, make_post):
    post = make_post()
    client = client_for(stranger)
    vote(client, post, 1)
    response = vote(client, post, 1)
    assert response.status_code == 200
    assert response.json() == {"score": 1, "my_vote": 1}
    assert len(read_stream(vote_stream(post.id, stranger.id))) == 1


def test_removing_a_vote_never_cast_records_nothing(stranger, client_for, make_post):
    post = make_post()
    assert vote(client_for(stranger), post, 0).json() == {"score": 0, "my_vote": 0}
    assert read_stream(vote_stream(post.id, stranger.id)) == []


def test_score_is_the_sum_of_everyones_votes_and_votes_do_not_move_the_version(
    author, make_user, client_for, make_post, api_client
):
    post = make_post()
    for value in (1, 1, -1, 1):
        vote(client_for(make_user()), post, value)
    vote(client_for(author), post, -1)
    body = api_client.get(f"/api/posts/{post.id}/").json()
    assert body["score"] == 1
    assert body["version"] == 1


def test_anonymous_cannot_vote(api_client, make_post):
    assert vote(api_client, make_post(), 1).status_code == 401


def test_vote_on_unknown_post_is_404(stranger, client_for):
    response = client_for(stranger).post(f"/api/posts/{uuid.uuid4()}/vote/", {"value": 1}, format="json")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "payload", [{}, {"value": 2}, {"value": -2}, {"value": "up"}, {"value": None}, {"value": 1.5}]
)
def test_invalid_vote_is_400_and_records_nothing(stranger, client_for, make_post, payload):
    post = make_post()
    correlation_id = uuid.uuid4()
    response = client_for(stranger).post(
        f"/api/posts/{post.id}/vote/", payload, format="json", HTTP_X_CORRELATION_ID=str(correlation_id)
    )
    assert response.status_code == 400
    assert read_correlation(correlation_id) == []
