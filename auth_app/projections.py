"""The login-security projection: counted failures and the locks they cause.

Inline, so the failure that reaches the limit locks in the same transaction
that records it: the very next attempt is refused. Times come from each
event's `recorded_at`, never from the clock, so a replay rebuilds the same
rows; only the check "is this lock still in force" compares with the current
time (see `auth_app.selectors.login_block`). The policy (limits, window, lock
duration, what counts) is in `auth_app.lockout`.

Handlers write through a `ProjectionBatch` (eventstore.projection_batch).
Counting a username needs every failure of that username, counting an ip
every failure of that ip, and only those rows are ever deleted: a batch loads
the failures and locks of its usernames and ips, and counts in memory.

Under concurrency the username count is exact (logins for one username key
are serialised, see `auth_app.services.sessions`); the ip count across
usernames is approximate, which is all a spraying limit needs.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Q

from eventstore import ProjectionBatch, RecordedEvent, batched_projection, privacy, register_projection

from . import lockout
from .events import FAILED_LOGIN_ATTEMPT, USER_FORGOTTEN
from .models import LoginFailure, LoginLockout

_COUNTED_BY = {lockout.SCOPE_USERNAME: "username_key", lockout.SCOPE_IP: "ip"}


def _ip(event: RecordedEvent) -> str:
    """An erased ip (its user was forgotten) is no ip: stored as "" and never counted."""
    return "" if privacy.is_erased(event.data["ip"]) else event.data["ip"]


def load_failures_and_locks(batch: ProjectionBatch, events: Sequence[RecordedEvent]) -> None:
    attempts = [
        e
        for e in events
        if e.type == FAILED_LOGIN_ATTEMPT.name and e.data["reason"] in lockout.COUNTED_REASONS
    ]
    if not attempts:
        return  # refusals and forgets read nothing
    keys = {e.data["username_key"] for e in attempts}
    ips = {_ip(e) for e in attempts} - {""}
    # The rows of either (what Q(username_key__in=keys) | Q(ip__in=ips) reads), one array each.
    batch.load_in(LoginFailure, "username_key", keys)
    batch.load_in(LoginFailure, "ip", ips)
    batch.load(
        LoginLockout,
        Q(scope=lockout.SCOPE_USERNAME, key__in=keys) | Q(scope=lockout.SCOPE_IP, key__in=ips),
    )


def on_failed_login_attempt(batch: ProjectionBatch, event: RecordedEvent) -> None:
    """Count the failure, lock what it takes over a limit, drop failures too old to count."""
    if event.data["reason"] not in lockout.COUNTED_REASONS:
        return  # refusals neither count nor extend a lock
    key, ip, at = event.data["username_key"], _ip(event), event.recorded_at
    batch.insert(LoginFailure, event_id=str(event.id), username_key=key, ip=ip, attempted_at=at)
    _lock_when_over_limit(batch, lockout.SCOPE_USERNAME, key, event, lockout.attempts_limit())
    if ip:
        _lock_when_over_limit(batch, lockout.SCOPE_IP, ip, event, lockout.ip_attempts_limit())
    # Rows this old can no longer fall in anyone's window; keep the table small.
    too_old = at - 2 * lockout.window()
    for failure in batch.where(LoginFailure, "username_key", key):
        if failure["attempted_at"] < too_old:
            batch.delete(LoginFailure, failure["event_id"])


def _lock_when_over_limit(
    batch: ProjectionBatch, scope: str, key: str, event: RecordedEvent, limit: int
) -> None:
    at = event.recorded_at
    counted_since = at - lockout.window()
    previous = batch.find(LoginLockout, (scope, key))
    if previous is not None:
        # A lock consumes the failures that caused it: count only what came after.
        counted_since = max(counted_since, previous["locked_at"])
    failures = batch.where(LoginFailure, _COUNTED_BY[scope], key)
    count = sum(1 for failure in failures if failure["attempted_at"] > counted_since)
    if count >= limit:
        batch.put(
            LoginLockout,
            scope=scope,
            key=key,
            locked_at=at,
            locked_until=at + lockout.lock_duration(),
            failed_attempts=count,
            triggered_by=str(event.id),
        )


def forget_failure_ips(batch: ProjectionBatch, event: RecordedEvent) -> None:
    """A forgotten user's failures keep counting for the username, without their ip.

    A replay reads those ips as erased anyway; this makes the live table agree
    at once instead of at the next replay.
    """
    batch.update_where(LoginFailure, Q(username_key=lockout.username_key(event.data["username"])), ip="")


LOGIN_SECURITY = register_projection(
    batched_projection(
        name="auth_app.login_security",
        handlers={FAILED_LOGIN_ATTEMPT: on_failed_login_attempt, USER_FORGOTTEN: forget_failure_ips},
        models=[LoginFailure, LoginLockout],
        keys={LoginFailure: ("event_id",), LoginLockout: ("scope", "key")},
        load=load_failures_and_locks,
        description="Failed logins per username and ip, and the lockouts they cause.",
    )
)
