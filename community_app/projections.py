"""Inline projections of the community streams: posts (with their links), comments, votes.

Each projection writes only its own tables, so each can be rebuilt alone: the
post row's `score` and `comment_count` are kept by the posts projection from
the vote and comment events. Handlers that touch a post from another stream
(votes, comments) only add to counters, which commute: the result does not
depend on whether concurrent transactions are replayed in commit or position order.
"""

from __future__ import annotations

from django.db.models import F

from eventstore import privacy
from eventstore.envelope import RecordedEvent
from eventstore.projections import Projection, register_projection

from .models import Comment, Post, PostLink, Vote


def _replace_links(post_id, urls: list[str]) -> None:
    PostLink.objects.filter(post_id=post_id).delete()
    PostLink.objects.bulk_create(
        PostLink(post_id=post_id, normalized_url=url, rank=rank) for rank, url in enumerate(urls)
    )


def on_post_created(event: RecordedEvent) -> None:
    data = event.data
    Post.objects.create(
        id=data["post_id"],
        title=data["title"],
        body=data["body_text"],
        body_format=data["body_format"],
        author_id=data["author_id"],
        author_username=data["author_username"],
        created_at=event.recorded_at,
        updated_at=event.recorded_at,
        created_position=event.position,
        version=event.stream_version,
    )
    _replace_links(data["post_id"], data["urls"])


def on_post_updated(event: RecordedEvent) -> None:
    data = event.data
    fields = {name: change["after"] for name, change in data["changed"].items()}
    Post.objects.filter(id=data["post_id"]).update(
        **fields, updated_at=event.recorded_at, version=event.stream_version
    )
    if data.get("urls") is not None:
        _replace_links(data["post_id"], data["urls"])


def on_post_deleted(event: RecordedEvent) -> None:
    Post.objects.filter(id=event.data["post_id"]).update(
        deleted=True, deleted_at=event.recorded_at, version=event.stream_version
    )


def on_post_flagged(event: RecordedEvent) -> None:
    Post.objects.filter(id=event.data["post_id"]).update(flagged=True, version=event.stream_version)


def on_post_unflagged(event: RecordedEvent) -> None:
    Post.objects.filter(id=event.data["post_id"]).update(flagged=False, version=event.stream_version)


def count_comment(event: RecordedEvent) -> None:
    Post.objects.filter(id=event.data["post_id"]).update(comment_count=F("comment_count") + 1)


def add_vote_to_score(event: RecordedEvent) -> None:
    # An atomic increment: concurrent voters serialise on the row, none is lost.
    delta = event.data["new_value"] - event.data["old_value"]
    Post.objects.filter(id=event.data["post_id"]).update(score=F("score") + delta)


def on_comment_created(event: RecordedEvent) -> None:
    data = event.data
    Comment.objects.create(
        id=data["comment_id"],
        post_id=data["post_id"],
        body=data["body"],
        author_id=data["author_id"],
        author_username=data["author_username"],
        created_at=event.recorded_at,
        created_position=event.position,
    )


def on_post_voted(event: RecordedEvent) -> None:
    data = event.data
    Vote.objects.update_or_create(
        post_id=data["post_id"],
        voter_id=data["voter_id"],
        defaults={
            "value": data["new_value"],
            "version": event.stream_version,
            "updated_at": event.recorded_at,
        },
    )


def erase_posts_of_forgotten_user(event: RecordedEvent) -> None:
    """Erase the texts now: a replay would read them as erased anyway (and so
    also erases texts of events stored before they were sealed)."""
    Post.objects.filter(author_id=event.data["user_id"]).update(title=privacy.ERASED, body=privacy.ERASED)


def erase_comments_of_forgotten_user(event: RecordedEvent) -> None:
    Comment.objects.filter(author_id=event.data["user_id"]).update(body=privacy.ERASED)


POSTS = register_projection(
    Projection(
        name="community.posts",
        description="Posts with their links, score, comment count and flag.",
        handlers={
            "community:post_created": on_post_created,
            "community:post_updated": on_post_updated,
            "community:post_deleted": on_post_deleted,
            "community:post_flagged": on_post_flagged,
            "community:post_unflagged": on_post_unflagged,
            "community:comment_created": count_comment,
            "community:post_voted": add_vote_to_score,
            "user:forgotten": erase_posts_of_forgotten_user,
        },
        models=[Post, PostLink],
    )
)

COMMENTS = register_projection(
    Projection(
        name="community.comments",
        description="Comments of posts.",
        handlers={
            "community:comment_created": on_comment_created,
            "user:forgotten": erase_comments_of_forgotten_user,
        },
        models=[Comment],
    )
)

VOTES = register_projection(
    Projection(
        name="community.votes",
        description="Each user's current vote on each post.",
        handlers={"community:post_voted": on_post_voted},
        models=[Vote],
    )
)
