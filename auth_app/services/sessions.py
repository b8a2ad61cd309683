"""Signing in and out: API tokens (knox), browser sessions, failed attempts and lockout.

A session is named in events by a `session_id` that is not a credential: the
first 16 hex digits of the knox token's digest (a hash of the token), or of a
SHA-256 of the browser's session key. The token itself is never stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import update_last_login
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken

from eventstore.bus import publish
from eventstore.commands import atomic_command

from .. import lockout
from ..events import LOGIN, LOGOUT, user_stream
from ..exceptions import InvalidCredentials, LoginLocked
from ..selectors import LoginBlock, login_block
from .failures import login_failure_record

SESSION_ID_LENGTH = 16
_MAX_IP = 64
_MAX_USER_AGENT = 512


@dataclass(frozen=True)
class LoginSuccess:
    user: object
    token: str  # handed to the client once; only its digest is stored


def token_session_id(token: AuthToken) -> str:
    return token.digest[:SESSION_ID_LENGTH]


def browser_session_id(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()[:SESSION_ID_LENGTH]


def user_login(*, username: str, password: str, ip: str, user_agent: str) -> LoginSuccess:
    """Check the credentials and open a token session, recording `auth:login`.

    A failure is recorded (`auth:failed_login_attempt`, committed) before
    InvalidCredentials is raised; a locked username or ip raises LoginLocked
    without checking the password, and that refusal is recorded too.
    """
    outcome = _login_attempt(username=username, password=password, ip=ip, user_agent=user_agent)
    if isinstance(outcome, LoginBlock):
        raise LoginLocked(outcome.retry_after)
    if outcome is None:
        raise InvalidCredentials()
    return outcome


@atomic_command
def _login_attempt(
    *, username: str, password: str, ip: str, user_agent: str
) -> LoginSuccess | LoginBlock | None:
    _serialise_attempts_for(username)
    block = login_block(username=username, ip=ip)
    if block is not None:
        reason = "locked" if block.scope == lockout.SCOPE_USERNAME else "ip_locked"
        login_failure_record(username=username, ip=ip, reason=reason)
        return block
    user, failure_reason = _check_credentials(username, password)
    if user is None:
        login_failure_record(username=username, ip=ip, reason=failure_reason)
        return None
    token_row, token = AuthToken.objects.create(user=user)
    update_last_login(None, user)
    _publish_login(user, method="token", session_id=token_session_id(token_row), ip=ip, user_agent=user_agent)
    return LoginSuccess(user=user, token=token)


def _serialise_attempts_for(username: str) -> None:
    # One attempt per username key at a time, so the 5th failure locks before a
    # 6th is checked. Taken before any write, so attempts also get increasing
    # transaction ids, i.e. log positions in the order they were applied.
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


@atomic_command
def user_logout(*, token: AuthToken) -> None:
    """End one token session (other sessions of the user go on) and record `auth:logout`."""
    end_token_session(token, reason="logout")


def end_token_session(token: AuthToken, *, reason: str) -> None:
    session_id = token_session_id(token)
    duration = _seconds_since(token.created)
    user_id = token.user_id
    token.delete()
    publish(
        LOGOUT,
        stream_id=user_stream(user_id),
        data={
            "user_id": user_id,
            "method": "token",
            "session_id": session_id,
            "session_duration_seconds": duration,
            "reason": reason,
        },
    )


@atomic_command
def session_login_record(*, user, session_key: str, ip: str, user_agent: str) -> None:
    """Record `auth:login` for a browser session login (Django's `login()`, e.g. the admin)."""
    _publish_login(
        user, method="session", session_id=browser_session_id(session_key), ip=ip, user_agent=user_agent
    )


@atomic_command
def session_logout_record(*, user, session_key: str, logged_in_at: dt.datetime | None) -> None:
    """Record `auth:logout` for a browser session; duration 0 when its start is unknown."""
    publish(
        LOGOUT,
        stream_id=user_stream(user.pk),
        data={
            "user_id": user.pk,
            "method": "session",
            "session_id": browser_session_id(session_key),
            "session_duration_seconds": _seconds_since(logged_in_at) if logged_in_at else 0.0,
        },
    )


def _publish_login(user, *, method: str, session_id: str, ip: str, user_agent: str) -> None:
    publish(
        LOGIN,
        stream_id=user_stream(user.pk),
        data={
            "user_id": user.pk,
            "username": user.username,
            "method": method,
            "session_id": session_id,
            "ip": ip[:_MAX_IP],
            "user_agent": user_agent[:_MAX_USER_AGENT],
        },
    )


def _seconds_since(start: dt.datetime) -> float:
    return round(max(0.0, (timezone.now() - start).total_seconds()), 3)
