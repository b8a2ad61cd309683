"""What the community's services refuse, as exceptions the API maps to 4xx.

They subclass Django's Http404 and PermissionDenied, which DRF answers with
404 and 403; the admin shows their message.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404


class PostNotFound(Http404):
    """No such post, or it was deleted (a deleted post is gone for every verb)."""


class NotAllowed(PermissionDenied):
    """The user may not do this to this post."""


class InvalidInput(ValueError):
    """Input the API's serializers reject first (lengths, vote values); a bug if it gets here."""
