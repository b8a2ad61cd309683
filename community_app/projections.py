"""Inline projections of the community streams: posts (with their links), comments, votes.

Each projection writes only its own tables, so each can be rebuilt alone: the
post row's `score` and `comment_count` are kept by the posts projection from
the vote and comment events. Handlers that touch a post from another stream
(votes, comments) only add to counters, which commute: the result does not
depend on whether concurrent transactions are replayed in commit or position order.

The frequent events (posts and comments created, votes) are applied by batch
functions: a rebuild hands them thousands of events at once and they write a
few set-based statements; live, each event is a batch of one, so there is one
code path. Counters stay atomic increments (`score = score + delta`), which is
what keeps concurrent live voters exact. A rare event in a batch (an edit, a
delete, a forget) first writes what came before it, then runs its own handler.
"""

from __future__ import annotations

from collections.abc import Sequence

from auth_app.events import USER_FORGOTTEN
from eventstore import (
    Projection,
    RecordedEvent,
    execute_with_arrays,
    insert_rows,
    privacy,
    register_projection,
)

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


def _replace_links(post_id, urls: list[str]) -> None:
    PostLink.objects.filter(post_id=post_id).delete()
    PostLink.objects.bulk_create(
        PostLink(post_id=post_id, normalized_url=url, rank=rank) for rank, url in enumerate(urls)
    )


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


def erase_posts_of_forgotten_user(event: RecordedEvent) -> None:
    """Erase the texts now: a replay would read them as erased anyway (and so
    also erases texts of events stored before they were sealed)."""
    Post.objects.filter(author_id=event.data["user_id"]).update(title=privacy.ERASED, body=privacy.ERASED)


def erase_comments_of_forgotten_user(event: RecordedEvent) -> None:
    Comment.objects.filter(author_id=event.data["user_id"]).update(body=privacy.ERASED)


_POST_COLUMNS = (
    "id", "title", "body", "body_format", "author_id", "author_username", "created_at", "updated_at",
    "created_position", "version", "score", "comment_count", "flagged", "deleted", "deleted_at",
)  # fmt: skip
_SCORE, _COMMENTS = _POST_COLUMNS.index("score"), _POST_COLUMNS.index("comment_count")
_ADD_TO_COUNTERS_SQL = f"""
UPDATE {Post._meta.db_table} AS p SET score = p.score + d.score, comment_count = p.comment_count + d.comments
FROM unnest(%b::text[]::uuid[], %b::integer[], %b::integer[]) AS d(id, score, comments) WHERE p.id = d.id
"""


class _PostsBatch:
    """Posts created and counter deltas of a run of frequent events, written in four statements."""

    def __init__(self) -> None:
        self.created: dict[str, list] = {}  # post id -> row in _POST_COLUMNS order
        self.deltas: dict[str, list[int]] = {}  # post id (stored before the run) -> [score, comments]

    def add_post(self, event: RecordedEvent) -> None:
        data = event.data
        if data["post_id"] in self.created:
            self.flush()  # let the duplicate fail in SQL as it would alone
        at = event.recorded_at
        row = [data["post_id"], data["title"], data["body_text"], data["body_format"], data["author_id"]]
        row += [data["author_username"], at, at, event.position, event.stream_version, 0, 0, False, False]
        self.created[data["post_id"]] = [*row, None, data["urls"]]

    def add_to_counter(self, post_id: str, index: int, delta: int) -> None:
        row = self.created.get(post_id)
        if row is not None:
            row[index] += delta
        else:
            self.deltas.setdefault(post_id, [0, 0])[index - _SCORE] += delta

    def flush(self) -> None:
        if self.deltas:
            # Before the inserts: a post created later in this run must not see earlier deltas
            # (one by one, they would have updated no row either).
            ids = sorted(self.deltas)  # one lock order for concurrent writers
            scores, comments = [self.deltas[i][0] for i in ids], [self.deltas[i][1] for i in ids]
            execute_with_arrays(_ADD_TO_COUNTERS_SQL, [ids, scores, comments])
        if self.created:
            # New posts have no links yet (a duplicate post id fails on the insert below).
            insert_rows(Post, _POST_COLUMNS, [row[:-1] for row in self.created.values()])
            links = [(i, url, rank) for i, row in self.created.items() for rank, url in enumerate(row[-1])]
            insert_rows(PostLink, ("post_id", "normalized_url", "rank"), links)
        self.created, self.deltas = {}, {}


def apply_post_events(events: Sequence[RecordedEvent]) -> None:
    """The posts projection's batch handler (and, with one event, its live handler)."""
    batch = _PostsBatch()
    for event in events:
        if event.type == POST_CREATED.name:
            batch.add_post(event)
        elif event.type == POST_VOTED.name:
            batch.add_to_counter(
                event.data["post_id"], _SCORE, event.data["new_value"] - event.data["old_value"]
            )
        elif event.type == COMMENT_CREATED.name:
            batch.add_to_counter(event.data["post_id"], _COMMENTS, 1)
        elif event.type in _RARE_POST_HANDLERS:
            batch.flush()
            _RARE_POST_HANDLERS[event.type](event)
    batch.flush()


def apply_comment_events(events: Sequence[RecordedEvent]) -> None:
    """The comments projection's batch handler: the run of creations before a forget in one INSERT."""
    rows = []
    for event in events:
        if event.type == COMMENT_CREATED.name:
            data, at = event.data, event.recorded_at
            ids = (data["comment_id"], data["post_id"])
            rows.append((*ids, data["body"], data["author_id"], data["author_username"], at, event.position))
        elif event.type == USER_FORGOTTEN.name:
            _insert_comments(rows)
            rows = []
            erase_comments_of_forgotten_user(event)
    _insert_comments(rows)


def _insert_comments(rows: list[tuple]) -> None:
    fields = ("id", "post_id", "body", "author_id", "author_username", "created_at", "created_position")
    insert_rows(Comment, fields, rows)


_VOTE_UPSERT = (
    "ON CONFLICT (post_id, voter_id) DO UPDATE "
    "SET value = excluded.value, version = excluded.version, updated_at = excluded.updated_at"
)


def apply_vote_events(events: Sequence[RecordedEvent]) -> None:
    """The votes projection's batch handler: the last vote per (post, voter) wins, one upsert."""
    latest: dict[tuple[str, int], tuple] = {}
    for event in events:
        if event.type == POST_VOTED.name:
            data = event.data
            key = (data["post_id"], data["voter_id"])
            latest[key] = (*key, data["new_value"], event.stream_version, event.recorded_at)
    fields = ("post_id", "voter_id", "value", "version", "updated_at")
    insert_rows(Vote, fields, sorted(latest.values()), _VOTE_UPSERT)


def _each_alone(batch_handler):
    def apply_one(event: RecordedEvent) -> None:
        batch_handler([event])

    return apply_one


# By type name: the batch handler dispatches on `event.type`.
_RARE_POST_HANDLERS = {
    event_type.name: handler
    for event_type, handler in (
        (POST_UPDATED, on_post_updated),
        (POST_DELETED, on_post_deleted),
        (POST_FLAGGED, on_post_flagged),
        (POST_UNFLAGGED, on_post_unflagged),
        (USER_FORGOTTEN, erase_posts_of_forgotten_user),
    )
}

POSTS = register_projection(
    Projection(
        name="community.posts",
        description="Posts with their links, score, comment count and flag.",
        handlers={
            **dict.fromkeys((POST_CREATED, COMMENT_CREATED, POST_VOTED), _each_alone(apply_post_events)),
            **_RARE_POST_HANDLERS,
        },
        models=[Post, PostLink],
        batch_apply=apply_post_events,
    )
)

COMMENTS = register_projection(
    Projection(
        name="community.comments",
        description="Comments of posts.",
        handlers={
            COMMENT_CREATED: _each_alone(apply_comment_events),
            USER_FORGOTTEN: erase_comments_of_forgotten_user,
        },
        models=[Comment],
        batch_apply=apply_comment_events,
    )
)

VOTES = register_projection(
    Projection(
        name="community.votes",
        description="Each user's current vote on each post.",
        handlers={POST_VOTED: _each_alone(apply_vote_events)},
        models=[Vote],
        batch_apply=apply_vote_events,
    )
)
