"""Event types of this app (registered with the event store on import).

Streams: `post-<post uuid>` holds a post's lifecycle (created, updated,
deleted, flagged, unflagged), so its version is the post's `version`;
`comment-<comment uuid>` holds one comment; `vote-<post uuid>-<user id>` holds
one user's vote on one post, so voters never conflict with each other.
"""

from __future__ import annotations

import uuid
from typing import Literal

from eventstore.registry import EventData, define_event

VoteValue = Literal[-1, 0, 1]


def post_stream(post_id: uuid.UUID | str) -> str:
    return f"post-{post_id}"


def comment_stream(comment_id: uuid.UUID | str) -> str:
    return f"comment-{comment_id}"


def vote_stream(post_id: uuid.UUID | str, voter_id: int) -> str:
    return f"vote-{post_id}-{voter_id}"


class PostCreated(EventData):
    """A signed-in user wrote a post; `urls` are the normalised links found in its body."""

    post_id: uuid.UUID
    title: str
    body: str
    author_id: int
    author_username: str
    urls: list[str]


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


POST_CREATED = define_event("community:post_created", PostCreated, source="community")
POST_UPDATED = define_event("community:post_updated", PostUpdated, source="community")
POST_DELETED = define_event("community:post_deleted", PostDeleted, source="community")
COMMENT_CREATED = define_event("community:comment_created", CommentCreated, source="community")
POST_VOTED = define_event("community:post_voted", PostVoted, source="community")
POST_FLAGGED = define_event("community:post_flagged", PostFlagged, source="community")
POST_UNFLAGGED = define_event("community:post_unflagged", PostUnflagged, source="community")
