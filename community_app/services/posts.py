"""Commands on posts: create, edit (optimistic concurrency), delete."""

from __future__ import annotations

import uuid

from eventstore import ConcurrencyConflict, ExpectedVersion, atomic_command, new_id, publish

from ..errors import NotAllowed
from ..events import POST_CREATED, POST_DELETED, POST_UPDATED, post_stream
from ..link_extraction import extract_urls
from ..models import Post
from ..projections import created_post_row
from .common import BODY_MAX_LENGTH, TITLE_MAX_LENGTH, actor_metadata, check_text, live_post


@atomic_command
def post_create(*, author, title: str, body: str) -> Post:
    """Record `community:post_created` for a new post by `author`, with the links of its body."""
    check_text("title", title, TITLE_MAX_LENGTH)
    check_text("body", body, BODY_MAX_LENGTH)
    post_id = new_id()  # time-ordered: the stream post-<id> lands at its key's right edge
    recorded = publish(
        POST_CREATED,
        stream_id=post_stream(post_id),
        data={
            "post_id": post_id,
            "title": title,
            "body_text": body,
            "body_format": "plain",
            "author_id": author.id,
            "author_username": author.get_username(),
            "urls": extract_urls(body),
        },
        expected_version=ExpectedVersion.NO_STREAM,
        metadata=actor_metadata(author),
    )
    # The row the posts projection has just inserted from this event, built by the same
    # function rather than read back: one query less per post (docs/benchmarks.md, 24.5).
    # The event holds the id as text; the model holds a UUID.
    return Post(**{**created_post_row(recorded), "id": post_id})


def post_update(
    *,
    editor,
    post_id: uuid.UUID | str,
    title: str | None = None,
    body: str | None = None,
    expected_version: int | None = None,
) -> Post:
    """Record `community:post_updated` with the fields that change (nothing when none does).

    Only the author edits. With `expected_version`, a post that moved on since
    is a ConcurrencyConflict (409); without, the edit applies to the current
    version, and a concurrent change makes it rerun on fresh state.
    """
    if title is not None:
        check_text("title", title, TITLE_MAX_LENGTH)
    if body is not None:
        check_text("body", body, BODY_MAX_LENGTH)
    command = _update_at_version if expected_version is not None else _update_latest
    return command(editor=editor, post_id=post_id, title=title, body=body, expected_version=expected_version)


def _update(*, editor, post_id, title, body, expected_version) -> Post:
    post = live_post(post_id)
    if post.author_id != editor.id:
        raise NotAllowed("Only the author can edit a post.")
    if expected_version is not None and expected_version != post.version:
        raise ConcurrencyConflict(post_stream(post.id), expected_version, post.version)
    changed = {
        name: {"before": getattr(post, name), "after": value}
        for name, value in (("title", title), ("body", body))
        if value is not None and value != getattr(post, name)
    }
    if not changed:
        return post
    data = {"post_id": post.id, "changed": changed, "editor_id": editor.id}
    if "body" in changed:
        data["urls"] = extract_urls(body)
    publish(
        POST_UPDATED,
        stream_id=post_stream(post.id),
        data=data,
        expected_version=post.version,
        metadata=actor_metadata(editor),
    )
    return Post.objects.get(id=post.id)


_update_at_version = atomic_command(_update)
_update_latest = atomic_command(_update, retry_conflicts=True)


@atomic_command(retry_conflicts=True)
def post_delete(*, actor, post_id: uuid.UUID | str) -> None:
    """Record `community:post_deleted`; the author or a moderator may delete."""
    post = live_post(post_id)
    is_author = post.author_id == actor.id
    if not is_author and not actor.is_moderator:
        raise NotAllowed("Only the author or a moderator can delete a post.")
    publish(
        POST_DELETED,
        stream_id=post_stream(post.id),
        data={
            "post_id": post.id,
            "deleted_by": actor.id,
            "deleted_by_username": actor.get_username(),
            "by_moderator": not is_author,
        },
        expected_version=post.version,
        metadata=actor_metadata(actor),
    )
