"""Commands of the community: each validates, decides, then records its event.

The inline projections update the tables in the same transaction, so a
service reads its result back from them. Who may do what is decided here, so
the API and the admin obey the same rules and record the same events.
"""

from .common import BODY_MAX_LENGTH, COMMENT_MAX_LENGTH, TITLE_MAX_LENGTH, VOTE_VALUES, live_post
from .engagement import VoteResult, comment_create, post_vote
from .flags import post_flag, post_unflag
from .posts import post_create, post_delete, post_update

__all__ = [
    "BODY_MAX_LENGTH",
    "COMMENT_MAX_LENGTH",
    "TITLE_MAX_LENGTH",
    "VOTE_VALUES",
    "VoteResult",
    "comment_create",
    "live_post",
    "post_create",
    "post_delete",
    "post_flag",
    "post_unflag",
    "post_update",
    "post_vote",
]
