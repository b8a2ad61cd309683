"""Queries of the auth app: lockout state and a user's recent security events."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q

from eventstore import RecordedEvent, read_stream, stream_version

from . import lockout
from .events import user_stream
from .models import LoginLockout


@dataclass(frozen=True)
class LoginBlock:
    """A lock in force: `scope` is "username" or "ip"."""

    scope: str
    locked_until: dt.datetime
    retry_after: int


def login_block(*, username: str, ip: str, now: dt.datetime | None = None) -> LoginBlock | None:
    """The lock that refuses a login for `username` from `ip` now, if any (the later-ending one)."""
    now = now or lockout.current_time()
    in_force = Q(scope=lockout.SCOPE_USERNAME, key=lockout.username_key(username))
    if ip:
        in_force |= Q(scope=lockout.SCOPE_IP, key=ip)
    lock = LoginLockout.objects.filter(in_force, locked_until__gt=now).order_by("-locked_until").first()
    if lock is None:
        return None
    return LoginBlock(
        scope=lock.scope,
        locked_until=lock.locked_until,
        retry_after=lockout.retry_after_seconds(lock.locked_until, now),
    )


def lock_triggered_by(event_id) -> LoginLockout | None:
    """The username lock that this failed-attempt event started, if it started one."""
    return LoginLockout.objects.filter(scope=lockout.SCOPE_USERNAME, triggered_by=event_id).first()


def user_security_events(*, user_id: int, limit: int = 20) -> list[RecordedEvent]:
    """The user's latest events (logins, failures, password changes …), newest first."""
    stream_id = user_stream(user_id)
    after = max(0, stream_version(stream_id) - limit)
    return list(reversed(read_stream(stream_id, after_version=after)))
