"""Changing a password: check the old one, validate the new one, end the other sessions."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from knox.models import AuthToken

from eventstore import atomic_command, publish

from ..errors import InvalidCredentials
from ..events import PASSWORD_CHANGE, user_stream
from .login_attempts import login_credentials_check
from .sessions import end_token_session

INCORRECT_OLD_CREDENTIAL = "Your old password was entered incorrectly."


def user_password_change(
    *, user, old_password: str, new_password: str, current_token: AuthToken | None, ip: str = ""
) -> int:
    """Set a new password and record `auth:password_change`; return how many sessions were revoked.

    Every API token of the user except `current_token` (the one making the
    request, if any) is deleted, each with an `auth:logout` of reason
    `password_change`: whoever else held a session, perhaps with the old
    password, is signed out, while the client that changed it stays signed in.
    Browser sessions end by themselves: Django ties them to the password hash.
    The old password is checked by the login service (auth_app.services.login_attempts),
    so a guess at it counts towards the same lockout as a login and is recorded
    (`auth:failed_login_attempt`, committed): a stolen session cannot guess the
    password faster than the login form can. Raises LoginLocked while the
    account or ip is locked, ValidationError keyed by field for a wrong old
    password or a new one the validators reject (nothing recorded for the latter).
    """
    try:
        login_credentials_check(username=user.get_username(), password=old_password, ip=ip)
    except InvalidCredentials:
        raise ValidationError({"old_password": [INCORRECT_OLD_CREDENTIAL]}) from None
    return _password_set(user=user, new_password=new_password, current_token=current_token)


@atomic_command
def _password_set(*, user, new_password: str, current_token: AuthToken | None) -> int:
    try:
        validate_password(new_password, user=user)
    except ValidationError as invalid:
        raise ValidationError({"new_password": list(invalid.messages)}) from None
    user.set_password(new_password)
    user.save(update_fields=["password"])
    other_tokens = AuthToken.objects.filter(user=user)
    if current_token is not None:
        other_tokens = other_tokens.exclude(digest=current_token.digest)
    revoked = 0
    for token in other_tokens.order_by("created"):
        end_token_session(token, reason="password_change")
        revoked += 1
    publish(
        PASSWORD_CHANGE,
        stream_id=user_stream(user.pk),
        data={"user_id": user.pk, "revoked_sessions": revoked},
    )
    return revoked
