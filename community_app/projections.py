"""Inline projections of the community streams: posts (with their links), comments, votes.

Each projection writes only its own tables, so each can be rebuilt alone: the
post row's `score` and `comment_count` are kept by the posts projection from
the vote and comment events. Handlers that touch a post from another stream
(votes, comments) only add to counters, which commute and are written as
atomic increments: the result does not depend on whether concurrent
transactions are replayed in commit or position order.

Handlers write through a `ProjectionBatch` (eventstore.projection_batch): live
an event is a batch of one, a rebuild hands thousands at once.
"""

from __future__ import annotations

from django.db.models import Q

from auth_app.events import USER_FORGOTTEN
from eventstore import ProjectionBatch, RecordedEvent, batched_projection, privacy, register_projection

from .events import (
    COMMENT_CREATED,
    POST_CREATED,
    POST_DELETED,
    POST_FLAGGED,
    POST_UNFLAGGED,
    POST_UPDATED,
    POST_VOTED,
)
from .models import Comment, Post, PostLink, Vote

_POST_LINK_KEY = ("post_id", "rank")


# community.posts


def on_post_created(batch: ProjectionBatch, event: RecordedEvent) -> None:
    batch.insert(Post, **created_post_row(event))
    _add_links(batch, event.data["post_id"], event.data["urls"])


def created_post_row(event: RecordedEvent) -> dict:
    """The fields of the posts row a `post_created` event makes (the model's defaults for the rest).

    `post_create` builds the post it returns from this too, instead of reading
    back the row this projection has just written in the same transaction.
    """
    data, at = event.data, event.recorded_at
    return {
        "id": data["post_id"],
        "title": data["title"],
        "body": data["body_text"],
        "body_format": data["body_format"],
        "author_id": data["author_id"],
        "author_username": data["author_username"],
        "created_at": at,
        "updated_at": at,
        "created_position": event.position,
        "version": event.stream_version,
    }


def on_post_updated(batch: ProjectionBatch, event: RecordedEvent) -> None:
    data = event.data
    fields = {name: change["after"] for name, change in data["changed"].items()}
    batch.update(Post, data["post_id"], **fields, updated_at=event.recorded_at, version=event.stream_version)
    if data.get("urls") is not None:
        batch.delete_where(PostLink, Q(post_id=data["post_id"]))
        _add_links(batch, data["post_id"], data["urls"])


def _add_links(batch: ProjectionBatch, post_id: str, urls: list[str]) -> None:
    for rank, url in enumerate(urls):
        batch.insert(PostLink, post_id=post_id, normalized_url=url, rank=rank)


def on_post_deleted(batch: ProjectionBatch, event: RecordedEvent) -> None:
    batch.update(
        Post, event.data["post_id"], deleted=True, deleted_at=event.recorded_at, version=event.stream_version
    )


def on_post_flagged(batch: ProjectionBatch, event: RecordedEvent) -> None:
    batch.update(Post, event.data["post_id"], flagged=True, version=event.stream_version)


def on_post_unflagged(batch: ProjectionBatch, event: RecordedEvent) -> None:
    batch.update(Post, event.data["post_id"], flagged=False, version=event.stream_version)


def on_post_voted(batch: ProjectionBatch, event: RecordedEvent) -> None:
    data = event.data
    batch.add(Post, data["post_id"], score=data["new_value"] - data["old_value"])


def on_comment_counted(batch: ProjectionBatch, event: RecordedEvent) -> None:
    batch.add(Post, event.data["post_id"], comment_count=1)


# A rebuild applies the votes and the posts' comment counts where they are stored
# (Projection.stored_sql_types): the votes are 40 % of the mixed log, which Python then neither
# reads nor decodes, and with the comments counted there the posts share no type read in Python
# with the comments, so the two are built side by side (eventstore.parallel_build; figure
# (24.4), bench/analysis.md). The same rows as the handlers: the sum of each post's changes
# (`on_post_voted`) and of its comments (`on_comment_counted`), and each voter's latest vote on
# each post (`on_vote_cast`). The fields read are never sealed, and neither type has an
# upcaster (checked by eventstore.stored_sql). A comment's post was created before it, so the
# post's row is there when the statement runs after the batch that holds the post.
_VOTED = f"e.type = '{POST_VOTED.name}'"
_COMMENTED = f"e.type = '{COMMENT_CREATED.name}'"

_SCORE_STORED_SQL = f"""
UPDATE {Post._meta.db_table} AS p
SET score = p.score + v.delta, comment_count = p.comment_count + v.comments
FROM (
    SELECT (e.data->>'post_id')::uuid AS post_id,
           coalesce(sum((e.data->>'new_value')::integer - (e.data->>'old_value')::integer)
                    FILTER (WHERE {_VOTED}), 0) AS delta,
           count(*) FILTER (WHERE {_COMMENTED}) AS comments
    FROM events AS e WHERE {_VOTED} OR {_COMMENTED} GROUP BY 1
) AS v
WHERE p.id = v.post_id
"""

# Upserted: a range's votes whose key an earlier range wrote could be set apart for a plain
# INSERT, but that probe of the unique index costs about what ON CONFLICT's speculative
# insertion does (bench/analysis.md, "The votes without ON CONFLICT").
_VOTES_STORED_SQL = f"""
INSERT INTO {Vote._meta.db_table} (post_id, voter_id, value, version, updated_at)
SELECT DISTINCT ON (post_id, voter_id) post_id, voter_id, value, version, updated_at
FROM (
    SELECT (e.data->>'post_id')::uuid AS post_id, (e.data->>'voter_id')::bigint AS voter_id,
           (e.data->>'new_value')::smallint AS value, e.stream_version AS version,
           e.recorded_at AS updated_at, e.position
    FROM events AS e WHERE {_VOTED}
) AS v
ORDER BY post_id, voter_id, position DESC
ON CONFLICT (post_id, voter_id) DO UPDATE
SET value = excluded.value, version = excluded.version, updated_at = excluded.updated_at
"""


def erase_posts_of_forgotten_user(batch: ProjectionBatch, event: RecordedEvent) -> None:
    """Erase the texts now: a replay would read them as erased anyway (and so
    also erases texts of events stored before they were sealed)."""
    batch.update_where(Post, Q(author_id=event.data["user_id"]), title=privacy.ERASED, body=privacy.ERASED)


POSTS = register_projection(
    batched_projection(
        name="community.posts",
        description="Posts with their links, score, comment count and flag.",
        handlers={
            POST_CREATED: on_post_created,
            POST_UPDATED: on_post_updated,
            POST_DELETED: on_post_deleted,
            POST_FLAGGED: on_post_flagged,
            POST_UNFLAGGED: on_post_unflagged,
            POST_VOTED: on_post_voted,
            COMMENT_CREATED: on_comment_counted,
            USER_FORGOTTEN: erase_posts_of_forgotten_user,
        },
        models=[Post, PostLink],
        keys={PostLink: _POST_LINK_KEY},
        apply_stored_sql=_SCORE_STORED_SQL,
        stored_sql_types=(POST_VOTED.name, COMMENT_CREATED.name),
    )
)


# community.comments


def on_comment_created(batch: ProjectionBatch, event: RecordedEvent) -> None:
    data = event.data
    batch.insert(
        Comment,
        id=data["comment_id"],
        post_id=data["post_id"],
        body=data["body"],
        author_id=data["author_id"],
        author_username=data["author_username"],
        created_at=event.recorded_at,
        created_position=event.position,
    )


def erase_comments_of_forgotten_user(batch: ProjectionBatch, event: RecordedEvent) -> None:
    batch.update_where(Comment, Q(author_id=event.data["user_id"]), body=privacy.ERASED)


COMMENTS = register_projection(
    batched_projection(
        name="community.comments",
        description="Comments of posts.",
        handlers={COMMENT_CREATED: on_comment_created, USER_FORGOTTEN: erase_comments_of_forgotten_user},
        models=[Comment],
    )
)


# community.votes


def on_vote_cast(batch: ProjectionBatch, event: RecordedEvent) -> None:
    """The voter's current vote on the post: the latest replaces any earlier one."""
    data = event.data
    batch.put(
        Vote,
        post_id=data["post_id"],
        voter_id=data["voter_id"],
        value=data["new_value"],
        version=event.stream_version,
        updated_at=event.recorded_at,
    )


VOTES = register_projection(
    batched_projection(
        name="community.votes",
        description="Each user's current vote on each post.",
        handlers={POST_VOTED: on_vote_cast},
        models=[Vote],
        keys={Vote: ("post_id", "voter_id")},
        apply_stored_sql=_VOTES_STORED_SQL,
        stored_sql_types=(POST_VOTED.name,),
    )
)
