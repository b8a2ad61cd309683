"""Recording failed and refused logins, and the account lock the failures cause."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone

from eventstore import RecordedEvent, atomic_command, publish

from .. import lockout
from ..events import (
    ACCOUNT_LOCKED,
    FAILED_LOGIN_ATTEMPT,
    LOGIN_ATTEMPTS_LIMITED,
    login_limits_stream,
    unknown_login_stream,
    unknown_logins_subject,
    user_stream,
)
from ..selectors import lock_triggered_by
from ..usernames import normalize_username

_MAX_USERNAME = 150
_MAX_IP = 64


@atomic_command
def login_failure_record(*, username: str, ip: str, reason: str) -> RecordedEvent:
    """Record a failed or refused login; when it locks the username, record `auth:account_locked`.

    Goes to the user's stream when the typed name matches an account ignoring
    case (so forgetting that user erases it), else to `login-<username key>`
    sealed with the day's shared key (see auth_app.events).
    """
    username = username[:_MAX_USERNAME]
    key = lockout.username_key(username)
    user = (
        get_user_model()
        ._default_manager.filter(username__iexact=normalize_username(username).strip())
        .order_by("pk")
        .first()
    )
    if user is not None:
        stream_id, sealed_for = user_stream(user.pk), None
    else:
        stream_id, sealed_for = unknown_login_stream(key), unknown_logins_subject(timezone.now().date())
    event = publish(
        FAILED_LOGIN_ATTEMPT,
        stream_id=stream_id,
        data={
            "username": username,
            "username_key": key,
            "ip": ip[:_MAX_IP],
            "reason": reason,
            "sealed_for": sealed_for,
        },
    )
    lock = lock_triggered_by(event.id)  # the inline projection has already counted it
    if lock is not None:
        publish(
            ACCOUNT_LOCKED,
            stream_id=stream_id,
            data={
                "username": username,
                "username_key": key,
                "failed_attempts": lock.failed_attempts,
                "locked_until": lock.locked_until,
                "sealed_for": sealed_for,
            },
        )
    return event


@atomic_command
def login_limit_record(*, ip: str, limit: int, window_seconds: int) -> RecordedEvent:
    """Record that `ip` went over the per-address login limit in the current window (once per window)."""
    return publish(
        LOGIN_ATTEMPTS_LIMITED,
        stream_id=login_limits_stream(timezone.now().date()),
        data={"ip": ip[:_MAX_IP], "limit": limit, "window_seconds": window_seconds},
    )
