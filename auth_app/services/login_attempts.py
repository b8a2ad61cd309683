"""The one place a password typed into a login is checked: API login and admin login alike.

Every attempt for one username key runs under the same Postgres advisory lock,
so the lock check, the password check and the failure that may lock the name
are one step: the 5th failure locks before a 6th password is checked, however
many attempts arrive at once and through whichever door (API or admin form).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import connection

from eventstore import atomic_command

from .. import lockout, login_rate
from ..errors import InvalidCredentials, LoginLocked, LoginRateLimited
from ..selectors import LoginBlock, login_block
from .failures import login_failure_record, login_limit_record


def login_credentials_check(*, username: str, password: str, ip: str):
    """The user whose `password` this is, or raise; every failure and refusal is recorded (committed).

    Raises LoginRateLimited (nothing checked, nothing recorded but one summary
    per window) when the address is over its attempt rate (auth_app.login_rate),
    LoginLocked (the password is not checked) while the username or ip is
    locked, and InvalidCredentials for an unknown user, a wrong password or an
    inactive account.
    """
    attempt = login_rate.count_attempt(ip)
    if attempt.over_limit:
        if attempt.first_over_limit:
            login_limit_record(
                ip=ip, limit=login_rate.attempts_limit(), window_seconds=login_rate.window_seconds()
            )
        raise LoginRateLimited(attempt.retry_after)
    outcome = _attempt(username=username, password=password, ip=ip)
    if isinstance(outcome, LoginBlock):
        raise LoginLocked(outcome.retry_after)
    if outcome is None:
        raise InvalidCredentials()
    return outcome


@atomic_command
def _attempt(*, username: str, password: str, ip: str):
    serialise_attempts_for(username)
    block = login_block(username=username, ip=ip)
    if block is not None:
        reason = "locked" if block.scope == lockout.SCOPE_USERNAME else "ip_locked"
        login_failure_record(username=username, ip=ip, reason=reason)
        return block
    user, failure_reason = _check_credentials(username, password)
    if user is None:
        login_failure_record(username=username, ip=ip, reason=failure_reason)
    return user


def serialise_attempts_for(username: str) -> None:
    """Hold the username key's attempt lock until the current transaction ends.

    Taken before any write, so attempts also get increasing transaction ids,
    i.e. log positions in the order they were applied.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"auth-login:{lockout.username_key(username)}"],
        )


def _check_credentials(username: str, password: str):
    User = get_user_model()
    try:
        user = User._default_manager.get_by_natural_key(username)
    except User.DoesNotExist:
        # Hash anyway: an unknown user must cost as much time as a wrong password.
        User().set_password(password)
        return None, "unknown_user"
    if not user.check_password(password):
        return None, "wrong_password"
    if not user.is_active:
        return None, "inactive_user"
    return user, None
