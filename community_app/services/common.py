"""What every community command needs: input limits, the live post, the actor's metadata."""

from __future__ import annotations

import uuid

from ..errors import InvalidInput, PostNotFound
from ..models import Post

TITLE_MAX_LENGTH = 200
BODY_MAX_LENGTH = 20_000
COMMENT_MAX_LENGTH = 5_000
VOTE_VALUES = (-1, 0, 1)


def check_text(name: str, value: str, max_length: int) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise InvalidInput(f"{name} must be 1 to {max_length} characters")


def live_post(post_id: uuid.UUID | str) -> Post:
    """The post, or PostNotFound when it does not exist or was deleted."""
    try:
        return Post.objects.get(id=post_id, deleted=False)
    except (Post.DoesNotExist, ValueError):
        raise PostNotFound("No such post.") from None


def actor_metadata(user) -> dict:
    return {"actor_id": user.id if user is not None else None}
