"""Commands that engage with a post: comments and votes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from eventstore import ExpectedVersion, atomic_command, new_id, publish

from ..errors import InvalidInput
from ..events import COMMENT_CREATED, POST_VOTED, comment_stream, vote_stream
from ..models import Comment, Post, Vote
from .common import COMMENT_MAX_LENGTH, VOTE_VALUES, actor_metadata, check_text, live_post


@dataclass(frozen=True)
class VoteResult:
    score: int
    my_vote: int


@atomic_command
def comment_create(*, author, post_id: uuid.UUID | str, body: str) -> Comment:
    """Record `community:comment_created` on a live post."""
    check_text("body", body, COMMENT_MAX_LENGTH)
    post = live_post(post_id)
    comment_id = new_id()  # time-ordered, as a post's (eventstore/ids.py)
    publish(
        COMMENT_CREATED,
        stream_id=comment_stream(comment_id),
        data={
            "comment_id": comment_id,
            "post_id": post.id,
            "body": body,
            "author_id": author.id,
            "author_username": author.get_username(),
        },
        expected_version=ExpectedVersion.NO_STREAM,
        metadata=actor_metadata(author),
    )
    return Comment.objects.get(id=comment_id)


@atomic_command(retry_conflicts=True)
def post_vote(*, voter, post_id: uuid.UUID | str, value: int) -> VoteResult:
    """Set `voter`'s vote on a post to 1, -1 or 0 (removed); no event when it already is.

    The vote stream's expected version makes two concurrent votes of one user
    conflict; the loser reruns on the winner's state, so nothing is lost.
    """
    if value not in VOTE_VALUES or isinstance(value, bool):
        raise InvalidInput("value must be 1, -1 or 0")
    post = live_post(post_id)
    current = Vote.objects.filter(post_id=post.id, voter_id=voter.id).first()
    old_value = current.value if current else 0
    if value != old_value:
        if old_value == 0:
            action = "create"
        elif value == 0:
            action = "remove"
        else:
            action = "update"
        publish(
            POST_VOTED,
            stream_id=vote_stream(post.id, voter.id),
            data={
                "post_id": post.id,
                "voter_id": voter.id,
                "action": action,
                "old_value": old_value,
                "new_value": value,
            },
            expected_version=current.version if current else ExpectedVersion.NO_STREAM,
            metadata=actor_metadata(voter),
        )
    score = Post.objects.values_list("score", flat=True).get(id=post.id)
    return VoteResult(score=score, my_vote=value)
