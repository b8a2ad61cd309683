"""Signing in and out: API tokens (knox), browser sessions, failed attempts and lockout.

A session is named in events by a `session_id` that is not a credential: the
first 16 hex digits of the knox token's digest (a hash of the token), or of a
SHA-256 of the browser's session key. The token itself is never stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import update_last_login
from django.contrib.sessions.models import Session
from django.utils import timezone
from knox.models import AuthToken

from eventstore import atomic_command, publish

from ..events import LOGIN, LOGOUT, user_stream
from .login_attempts import login_credentials_check

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
    """Check the credentials (auth_app.services.login_attempts) and open a token session.

    Records `auth:login`; a failure or a refusal for a locked username or ip
    is recorded and committed before InvalidCredentials or LoginLocked is raised.
    """
    user = login_credentials_check(username=username, password=password, ip=ip)
    return _open_token_session(user=user, ip=ip, user_agent=user_agent)


@atomic_command
def _open_token_session(*, user, ip: str, user_agent: str) -> LoginSuccess:
    token_row, token = AuthToken.objects.create(user=user)
    update_last_login(None, user)
    _publish_login(user, method="token", session_id=token_session_id(token_row), ip=ip, user_agent=user_agent)
    return LoginSuccess(user=user, token=token)


@atomic_command
def user_logout(*, token: AuthToken) -> None:
    """End one token session (other sessions of the user go on) and record `auth:logout`."""
    end_token_session(token, reason="logout")


@atomic_command
def user_logout_all(*, user) -> int:
    """End every session of the user, API tokens and browser sessions, each with an `auth:logout`
    of reason `logout_all`; return how many ended.

    Browser sessions are found by reading the unexpired sessions (the session
    store is not indexed by user): a cost paid only when someone asks for this.
    """
    ended = 0
    for token in AuthToken.objects.filter(user=user).order_by("created"):
        end_token_session(token, reason="logout_all")
        ended += 1
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get(SESSION_KEY) == str(user.pk):
            session_key = session.session_key  # delete() clears the primary key
            session.delete()
            _publish_session_logout(user, session_key, reason="logout_all")
            ended += 1
    return ended


@atomic_command
def token_expiry_record(*, token: AuthToken) -> None:
    """An API token was presented after its expiry: delete it and record its session's end."""
    end_token_session(token, reason="expired")


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
    _publish_session_logout(user, session_key, logged_in_at=logged_in_at)


def _publish_session_logout(
    user, session_key: str, *, logged_in_at: dt.datetime | None = None, reason: str = "logout"
) -> None:
    publish(
        LOGOUT,
        stream_id=user_stream(user.pk),
        data={
            "user_id": user.pk,
            "method": "session",
            "session_id": browser_session_id(session_key),
            "session_duration_seconds": _seconds_since(logged_in_at) if logged_in_at else 0.0,
            "reason": reason,
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
