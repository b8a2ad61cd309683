"""Flagging posts whose links are dangerous, and lifting the flag.

Both commands are idempotent: no event when the post already is in the
requested state, so redelivered link events and repeated admin actions change
nothing. They rerun on conflict because they re-derive everything from the
post's current state.
"""

from __future__ import annotations

import uuid

from eventstore import atomic_command, publish

from ..errors import NotAllowed
from ..events import POST_FLAGGED, POST_UNFLAGGED, post_stream
from .common import actor_metadata, live_post


def _set_flag(*, post_id, flagged: bool, reason: str, link_id, normalized_url, actor) -> bool:
    if actor is not None and not actor.is_moderator:
        raise NotAllowed("Only moderators can flag or unflag posts.")
    post = live_post(post_id)
    if post.flagged == flagged:
        return False
    publish(
        POST_FLAGGED if flagged else POST_UNFLAGGED,
        stream_id=post_stream(post.id),
        data={"post_id": post.id, "reason": reason, "link_id": link_id, "normalized_url": normalized_url},
        expected_version=post.version,
        metadata=actor_metadata(actor),
    )
    return True


@atomic_command(retry_conflicts=True)
def post_flag(
    *,
    post_id: uuid.UUID | str,
    reason: str,
    link_id: uuid.UUID | str | None = None,
    normalized_url: str | None = None,
    actor=None,
) -> bool:
    """Record `community:post_flagged` unless the post is flagged already; True when recorded.

    `actor` is the moderator flagging by hand, None when a link verdict did it.
    """
    return _set_flag(
        post_id=post_id,
        flagged=True,
        reason=reason,
        link_id=link_id,
        normalized_url=normalized_url,
        actor=actor,
    )


@atomic_command(retry_conflicts=True)
def post_unflag(
    *,
    post_id: uuid.UUID | str,
    reason: str,
    link_id: uuid.UUID | str | None = None,
    normalized_url: str | None = None,
    actor=None,
) -> bool:
    """Record `community:post_unflagged` unless the post is not flagged; True when recorded."""
    return _set_flag(
        post_id=post_id,
        flagged=False,
        reason=reason,
        link_id=link_id,
        normalized_url=normalized_url,
        actor=actor,
    )
