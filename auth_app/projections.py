"""The login-security projection: counted failures and the locks they cause.

Inline, so the failure that reaches the limit locks in the same transaction
that records it: the very next attempt is refused. Times come from each
event's `recorded_at`, never from the clock, so a replay rebuilds the same
rows; only the check "is this lock still in force" compares with the current
time (see `auth_app.selectors.login_block`). The policy (limits, window, lock
duration, what counts) is in `auth_app.lockout`.

Under concurrency the username count is exact (logins for one username key
are serialised, see `auth_app.services.sessions`); the ip count across
usernames is approximate, which is all a spraying limit needs.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from eventstore import privacy
from eventstore.envelope import RecordedEvent
from eventstore.projections import Projection, register_projection

from . import lockout
from .models import LoginFailure, LoginLockout


def apply_failed_login_attempt(event: RecordedEvent) -> None:
    data = event.data
    if data["reason"] not in lockout.COUNTED_REASONS:
        return  # refusals neither count nor extend a lock
    at = event.recorded_at
    key = lockout.username_key(data["username"])
    # An erased ip (its user was forgotten) is no ip: stored as "" and never counted.
    ip = "" if privacy.is_erased(data["ip"]) else data["ip"]
    LoginFailure.objects.create(event_id=event.id, username_key=key, ip=ip, attempted_at=at)
    _lock_when_over_limit(
        scope=lockout.SCOPE_USERNAME,
        key=key,
        failures=LoginFailure.objects.filter(username_key=key),
        limit=lockout.attempts_limit(),
        event=event,
    )
    if ip:
        _lock_when_over_limit(
            scope=lockout.SCOPE_IP,
            key=ip,
            failures=LoginFailure.objects.filter(ip=ip),
            limit=lockout.ip_attempts_limit(),
            event=event,
        )
    # Rows this old can no longer fall in anyone's window; keep the table small.
    LoginFailure.objects.filter(username_key=key, attempted_at__lt=at - 2 * lockout.window()).delete()


def _lock_when_over_limit(
    *, scope: str, key: str, failures: QuerySet[LoginFailure], limit: int, event: RecordedEvent
) -> None:
    at: dt.datetime = event.recorded_at
    counted_since = at - lockout.window()
    previous = LoginLockout.objects.filter(scope=scope, key=key).first()
    if previous is not None:
        # A lock consumes the failures that caused it: count only what came after.
        counted_since = max(counted_since, previous.locked_at)
    count = failures.filter(attempted_at__gt=counted_since).count()
    if count < limit:
        return
    LoginLockout.objects.update_or_create(
        scope=scope,
        key=key,
        defaults={
            "locked_at": at,
            "locked_until": at + lockout.lock_duration(),
            "failed_attempts": count,
            "triggered_by": event.id,
        },
    )


def forget_failure_ips(event: RecordedEvent) -> None:
    """A forgotten user's failures keep counting for the username, without their ip.

    A replay reads those ips as erased anyway; this makes the live table agree
    at once instead of at the next replay.
    """
    LoginFailure.objects.filter(username_key=lockout.username_key(event.data["username"])).update(ip="")


LOGIN_SECURITY = register_projection(
    Projection(
        name="auth_app.login_security",
        handlers={
            "auth:failed_login_attempt": apply_failed_login_attempt,
            "user:forgotten": forget_failure_ips,
        },
        models=[LoginFailure, LoginLockout],
        description="Failed logins per username and ip, and the lockouts they cause.",
    )
)
