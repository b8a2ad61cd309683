"""What the community's services refuse.

The API answers them in one place (platform_site/api_errors.py): PostNotFound
with 404, NotAllowed with 403, each with its message as the detail; the admin
shows their message.
"""


class CommunityError(Exception):
    """Base class of the community's refusals."""


class PostNotFound(CommunityError):
    """No such post, or it was deleted (a deleted post is gone for every verb)."""


class NotAllowed(CommunityError):
    """The user may not do this to this post."""


class InvalidInput(ValueError):
    """Input the API's serializers reject first (lengths, vote values); a bug if it gets here."""
