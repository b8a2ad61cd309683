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
from collections import defaultdict
from collections.abc import Sequence

from django.db import IntegrityError
from django.db.models import Q

from eventstore import Projection, RecordedEvent, insert_rows, privacy, register_projection

from . import lockout
from .events import FAILED_LOGIN_ATTEMPT, USER_FORGOTTEN
from .models import LoginFailure, LoginLockout


class _Failures:
    """The failures and locks a batch of attempts can read, in memory, and what it changed.

    Counting a username needs every row of that username, counting an ip every
    row of that ip, and only those rows are ever deleted: loading the rows of
    the batch's usernames and ips (one query each table) is enough.
    """

    def __init__(self, keys: set[str], ips: set[str]) -> None:
        rows = LoginFailure.objects.filter(Q(username_key__in=keys) | Q(ip__in=ips)).values_list(
            "event_id", "username_key", "ip", "attempted_at"
        )
        self.rows: dict[str, tuple] = {str(r[0]): r[1:] for r in rows}  # event id -> (key, ip, at)
        self.stored = set(self.rows)
        self.by_scope: dict[tuple[str, str], set[str]] = defaultdict(set)
        for event_id, (key, ip, _at) in self.rows.items():
            self._index(event_id, key, ip)
        locks = LoginLockout.objects.filter(
            Q(scope=lockout.SCOPE_USERNAME, key__in=keys) | Q(scope=lockout.SCOPE_IP, key__in=ips)
        ).values_list("scope", "key", "locked_at", "locked_until", "failed_attempts", "triggered_by")
        self.locks: dict[tuple[str, str], tuple] = {(lock[0], lock[1]): lock for lock in locks}
        self.changed_locks: set[tuple[str, str]] = set()

    def _index(self, event_id: str, key: str, ip: str) -> None:
        self.by_scope[lockout.SCOPE_USERNAME, key].add(event_id)
        if ip:
            self.by_scope[lockout.SCOPE_IP, ip].add(event_id)

    def add(self, event_id: str, key: str, ip: str, at: dt.datetime) -> None:
        if event_id in self.rows:
            raise IntegrityError(f"failure {event_id} is counted already")
        self.rows[event_id] = (key, ip, at)
        self._index(event_id, key, ip)

    def count_since(self, scope: str, key: str, since: dt.datetime) -> int:
        return sum(1 for i in self.by_scope.get((scope, key), ()) if self.rows[i][2] > since)

    def delete_older(self, key: str, before: dt.datetime) -> None:
        for event_id in [
            i for i in self.by_scope.get((lockout.SCOPE_USERNAME, key), ()) if self.rows[i][2] < before
        ]:
            _key, ip, _at = self.rows.pop(event_id)
            self.by_scope[lockout.SCOPE_USERNAME, key].discard(event_id)
            self.by_scope[lockout.SCOPE_IP, ip].discard(event_id)

    def write(self) -> None:
        gone = sorted(self.stored - set(self.rows))
        if gone:
            LoginFailure.objects.filter(event_id__in=gone).delete()
        new = [(i, *row) for i, row in self.rows.items() if i not in self.stored]
        insert_rows(LoginFailure, ("event_id", "username_key", "ip", "attempted_at"), new)
        fields = ("scope", "key", "locked_at", "locked_until", "failed_attempts", "triggered_by")
        locks = [self.locks[k] for k in sorted(self.changed_locks)]
        insert_rows(LoginLockout, fields, locks, _LOCK_UPSERT)


_LOCK_UPSERT = (
    "ON CONFLICT (scope, key) DO UPDATE SET locked_at = excluded.locked_at, "
    "locked_until = excluded.locked_until, failed_attempts = excluded.failed_attempts, "
    "triggered_by = excluded.triggered_by"
)


def apply_failed_login_attempts(events: Sequence[RecordedEvent]) -> None:
    """Count a batch of failed attempts in order and lock what goes over a limit; live, a batch of one."""
    attempts = [e for e in events if e.data["reason"] in lockout.COUNTED_REASONS]
    if not attempts:
        return  # refusals neither count nor extend a lock
    # An erased ip (its user was forgotten) is no ip: stored as "" and never counted.
    keyed = [(e, e.data["username_key"], _ip(e)) for e in attempts]
    failures = _Failures({key for _e, key, _ip in keyed}, {ip for _e, _key, ip in keyed if ip})
    window, limits = (
        lockout.window(),
        {
            lockout.SCOPE_USERNAME: lockout.attempts_limit(),
            lockout.SCOPE_IP: lockout.ip_attempts_limit(),
        },
    )
    for event, key, ip in keyed:
        at = event.recorded_at
        failures.add(str(event.id), key, ip, at)
        _lock_when_over_limit(failures, lockout.SCOPE_USERNAME, key, limits, event, window)
        if ip:
            _lock_when_over_limit(failures, lockout.SCOPE_IP, ip, limits, event, window)
        # Rows this old can no longer fall in anyone's window; keep the table small.
        failures.delete_older(key, at - 2 * window)
    failures.write()


def _ip(event: RecordedEvent) -> str:
    return "" if privacy.is_erased(event.data["ip"]) else event.data["ip"]


def _lock_when_over_limit(
    failures: _Failures, scope: str, key: str, limits: dict, event: RecordedEvent, window: dt.timedelta
) -> None:
    at: dt.datetime = event.recorded_at
    counted_since = at - window
    previous = failures.locks.get((scope, key))
    if previous is not None:
        # A lock consumes the failures that caused it: count only what came after.
        counted_since = max(counted_since, previous[2])
    count = failures.count_since(scope, key, counted_since)
    if count < limits[scope]:
        return
    failures.locks[scope, key] = (scope, key, at, at + lockout.lock_duration(), count, event.id)
    failures.changed_locks.add((scope, key))


def apply_login_security_events(events: Sequence[RecordedEvent]) -> None:
    """The projection's batch handler: runs of failed attempts, a forget on its own."""
    run: list[RecordedEvent] = []
    for event in events:
        if event.type == FAILED_LOGIN_ATTEMPT.name:
            run.append(event)
        elif event.type == USER_FORGOTTEN.name:
            apply_failed_login_attempts(run)
            run = []
            forget_failure_ips(event)
    apply_failed_login_attempts(run)


def apply_failed_login_attempt(event: RecordedEvent) -> None:
    apply_failed_login_attempts([event])


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
            FAILED_LOGIN_ATTEMPT: apply_failed_login_attempt,
            USER_FORGOTTEN: forget_failure_ips,
        },
        models=[LoginFailure, LoginLockout],
        description="Failed logins per username and ip, and the lockouts they cause.",
        batch_apply=apply_login_security_events,
    )
)
