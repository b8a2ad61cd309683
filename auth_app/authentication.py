"""API token authentication: knox's, without its sweep of the user's other tokens on every request.

knox deletes a user's expired tokens while it authenticates each request:
one query over all of that user's tokens, every time, growing with each
sign-in. The profile of `POST /api/posts/` showed it as the largest single
cost of authentication (docs/benchmarks.md, its profile). Here only the token in
hand is checked: once past its expiry (`REST_KNOX["TOKEN_TTL"]` after its last
use; knox's AUTO_REFRESH moves it on each use) it is refused with 401, deleted
and its session recorded as ended (`auth:logout`, reason `expired`). Expired
tokens of other sessions are refused the same way when they are presented.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.signals import token_expired


class TokenAuthentication(KnoxTokenAuthentication):
    def _cleanup_token(self, auth_token) -> bool:
        """True (and the session ended) when the presented token has expired; nothing else is read."""
        if auth_token.expiry is None or auth_token.expiry >= timezone.now():
            return False
        from .services import token_expiry_record  # services import this module's app; import late

        username = auth_token.user.get_username()
        token_expiry_record(token=auth_token)
        token_expired.send(sender=self.__class__, username=username, source="auth_token")
        return True


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI schema describes it as knox's token scheme (registered on import)."""

    target_class = "auth_app.authentication.TokenAuthentication"
