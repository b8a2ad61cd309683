"""Recording failed and refused logins, and the account lock the failures cause."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone

from eventstore.bus import publish
from eventstore.commands import atomic_command
from eventstore.envelope import RecordedEvent

from .. import lockout
from ..events import (
    ACCOUNT_LOCKED,
    FAILED_LOGIN_ATTEMPT,
    LOGIN_ATTEMPTS_LIMITED,
    login_limits_stream,
    unknown_login_stream,
    user_stream,
)
from ..selectors import lock_triggered_by

_MAX_USERNAME = 150
_MAX_IP = 64


@atomic_command
def login_failure_record(*, username: str, ip: str, reason: str) -> RecordedEvent:
    """Record a failed or refused login; when it locks the username, record `auth:account_locked`.

    Goes to the user's stream when the username names an account, else to
    `login-<username key>` (see auth_app.events).
    """
    username = username[:_MAX_USERNAME]
    user = get_user_model()._default_manager.filter(username=username).first()
    stream_id = user_stream(user.pk) if user else unknown_login_stream(lockout.username_key(username))
    event = publish(
        FAILED_LOGIN_ATTEMPT,
        stream_id=stream_id,
        data={"username": username, "ip": ip[:_MAX_IP], "reason": reason},
    )
    lock = lock_triggered_by(event.id)  # the inline projection has already counted it
    if lock is not None:
        publish(
            ACCOUNT_LOCKED,
            stream_id=stream_id,
            data={
                "username": username,
                "failed_attempts": lock.failed_attempts,
                "locked_until": lock.locked_until,
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
