"""Event types of this app (registered with the event store on import).

Streams: `post-<post uuid>` holds a post's lifecycle (created, updated,
deleted, flagged, unflagged), so its version is the post's `version`;
`comment-<comment uuid>` holds one comment; `vote-<post uuid>-<user id>` holds
one user's vote on one post, so voters never conflict with each other.

Titles and bodies of posts and comments are personal data of their author:
sealed with the author's key (eventstore.privacy), so forgetting the author
erases them from every read and, after a replay, from every projection.

Schema history: `community:post_created` v1 had `body`; v2 calls it
`body_text` and adds `body_format` ("plain" is the only format so far).
Stored v1 events stay as they are; `post_created_v1_to_v2` lifts them on read.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from eventstore import EventData, define_event

VoteValue = Literal[-1, 0, 1]
BodyFormat = Literal["plain"]


def post_stream(post_id: uuid.UUID | str) -> str:
    return f"post-{post_id}"


def comment_stream(comment_id: uuid.UUID | str) -> str:
    return f"comment-{comment_id}"


def vote_stream(post_id: uuid.UUID | str, voter_id: int) -> str:
    return f"vote-{post_id}-{voter_id}"


class PostCreated(EventData):
    """A signed-in user wrote a post; `urls` are the normalised links found in its body.
    Schema v2: `body_text` (v1's `body`) in `body_format`."""

    post_id: uuid.UUID
    title: str
    body_text: str
    body_format: BodyFormat = "plain"
    author_id: int
    author_username: str
    urls: list[str]


def post_created_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 `body` is v2 `body_text`; every v1 body was plain text."""
    upcast = {key: value for key, value in data.items() if key != "body"}
    return {**upcast, "body_text": data["body"], "body_format": "plain"}


class FieldChange(EventData):
    """One edited field: its value before and after the edit."""

    before: str
    after: str


class PostUpdated(EventData):
    """The author edited a post. `changed` names only fields whose value changed;
    `urls` is the full new list of links, present only when the body changed."""

    post_id: uuid.UUID
    changed: dict[Literal["title", "body"], FieldChange]
    urls: list[str] | None = None
    editor_id: int


class PostDeleted(EventData):
    """The author or a moderator deleted a post; its events stay, reads no longer show it."""

    post_id: uuid.UUID
    deleted_by: int
    deleted_by_username: str
    by_moderator: bool


class CommentCreated(EventData):
    """A signed-in user commented on a post."""

    comment_id: uuid.UUID
    post_id: uuid.UUID
    body: str
    author_id: int
    author_username: str


class PostVoted(EventData):
    """A user's vote on a post changed: created, changed in value, or removed (new value 0)."""

    post_id: uuid.UUID
    voter_id: int
    action: Literal["create", "update", "remove"]
    old_value: VoteValue
    new_value: VoteValue


class PostFlagged(EventData):
    """A post was flagged: one of its links was judged malicious (or a moderator flagged it)."""

    post_id: uuid.UUID
    reason: str
    link_id: uuid.UUID | None = None
    normalized_url: str | None = None


class PostUnflagged(EventData):
    """A post's flag was lifted: its link was verified safe (or a moderator unflagged it)."""

    post_id: uuid.UUID
    reason: str
    link_id: uuid.UUID | None = None
    normalized_url: str | None = None


_EDITED_TEXT = tuple(f"changed.{name}.{side}" for name in ("title", "body") for side in ("before", "after"))

POST_CREATED = define_event(
    "community:post_created",
    PostCreated,
    source="community",
    version=2,
    upcasters={1: post_created_v1_to_v2},
    personal_fields=("title", "body_text"),
    personal_subject="author_id",
)
POST_UPDATED = define_event(
    "community:post_updated",
    PostUpdated,
    source="community",
    personal_fields=_EDITED_TEXT,
    personal_subject="editor_id",
)
POST_DELETED = define_event("community:post_deleted", PostDeleted, source="community")
COMMENT_CREATED = define_event(
    "community:comment_created",
    CommentCreated,
    source="community",
    personal_fields=("body",),
    personal_subject="author_id",
)
POST_VOTED = define_event("community:post_voted", PostVoted, source="community")
POST_FLAGGED = define_event("community:post_flagged", PostFlagged, source="community")
POST_UNFLAGGED = define_event("community:post_unflagged", PostUnflagged, source="community")
