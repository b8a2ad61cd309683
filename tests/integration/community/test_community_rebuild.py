"""Rebuilding the community projections from the log gives back exactly the live rows."""

from __future__ import annotations

import uuid

import pytest

from community_app import services
from community_app.models import Comment, Post, PostLink, Vote
from community_app.projections import COMMENTS, POSTS, VOTES
from eventstore.projections import registered_projections
from eventstore.replay import rebuild_projection

pytestmark = pytest.mark.django_db


def snapshot(post_ids: list[uuid.UUID]) -> dict[str, list[dict]]:
    """Every community row of these posts; auto-numbered ids left out, rows in a stable order."""
    return {
        "posts": list(Post.objects.filter(id__in=post_ids).order_by("id").values()),
        "links": list(
            PostLink.objects.filter(post_id__in=post_ids)
            .order_by("post_id", "rank")
            .values("post_id", "normalized_url", "rank")
        ),
        "comments": list(Comment.objects.filter(post_id__in=post_ids).order_by("id").values()),
        "votes": list(
            Vote.objects.filter(post_id__in=post_ids)
            .order_by("post_id", "voter_id")
            .values("post_id", "voter_id", "value", "version", "updated_at")
        ),
    }


def test_rebuilding_every_community_projection_gives_the_live_rows(author, stranger, moderator, make_user):
    kept = services.post_create(
        author=author, title="Kept", body="see https://a.example/x and https://b.example/"
    )
    edited = services.post_create(author=stranger, title="Draft", body="no links yet")
    gone = services.post_create(author=author, title="Gone", body="https://c.example/")
    services.post_update(editor=stranger, post_id=edited.id, title="Final", body="now https://d.example/")
    services.post_update(editor=stranger, post_id=edited.id, title="Final again", expected_version=2)
    for post in (kept, edited, gone):
        services.comment_create(author=moderator, post_id=post.id, body=f"on {post.title}")
    services.comment_create(author=author, post_id=kept.id, body="second comment")
    voters = [make_user() for _ in range(3)]
    for voter, value in zip(voters, (1, -1, 1), strict=True):
        services.post_vote(voter=voter, post_id=kept.id, value=value)
    services.post_vote(voter=voters[0], post_id=kept.id, value=-1)
    services.post_vote(voter=voters[1], post_id=kept.id, value=0)
    services.post_vote(voter=author, post_id=gone.id, value=1)
    services.post_flag(post_id=kept.id, reason="link judged malicious by the scanner")
    services.post_flag(post_id=edited.id, reason="flagged by a moderator", actor=moderator)
    services.post_unflag(post_id=edited.id, reason="unflagged by a moderator", actor=moderator)
    services.post_delete(actor=moderator, post_id=gone.id)
    post_ids = [kept.id, edited.id, gone.id]
    live = snapshot(post_ids)
    assert live["posts"] and live["links"] and live["comments"] and live["votes"]

    for projection in (POSTS, COMMENTS, VOTES):
        assert rebuild_projection(projection) > 0

    assert snapshot(post_ids) == live
    kept_row = next(row for row in live["posts"] if row["id"] == kept.id)
    assert (kept_row["score"], kept_row["comment_count"], kept_row["flagged"]) == (
        0,
        2,
        True,
    )  # votes: -1, removed, +1


def test_the_community_projections_are_registered_and_cover_every_table():
    community = {name: p for name, p in registered_projections().items() if name.startswith("community.")}
    assert set(community) == {"community.posts", "community.comments", "community.votes"}
    tables = {model for projection in community.values() for model in projection.models}
    assert tables == {Post, PostLink, Comment, Vote}
