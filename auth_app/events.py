"""Event types of this app (registered with the event store on import).

Streams: `user-<id>` holds everything that happened to one account (creation,
logins, logouts, failed attempts, password changes, locks, moderator grants).
A failed attempt for a username that has no account goes to
`login-<username key>` instead (a keyed hash, see `auth_app.lockout.username_key`): there is
no user stream to put it on, and the HTTP answer is the same either way, so
the choice of stream reveals nothing to the client. Only staff read streams.

Passwords never appear in any event. Personal fields (email, ip, user agent)
are marked so the event store can encrypt them per user.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from eventstore import EventData, define_event

# Why an attempt failed. `locked` and `ip_locked` are refusals: the password
# was not even checked because the username or the ip is locked out.
FailureReason = Literal["unknown_user", "wrong_password", "inactive_user", "locked", "ip_locked"]
LoginMethod = Literal["token", "session"]
# `logout_all`: the user signed out of every session at once; `expired`: a token outlived its TTL.
LogoutReason = Literal["logout", "password_change", "logout_all", "expired"]


def user_stream(user_id: int) -> str:
    return f"user-{user_id}"


def unknown_login_stream(key: str) -> str:
    return f"login-{key}"


def unknown_logins_subject(day: dt.date) -> str:
    """The key that seals one day's failed logins for names that match no account."""
    return f"login-attempts-{day:%Y-%m-%d}"


def login_limits_stream(day: dt.date) -> str:
    """One stream per day for the per-address limit's summaries (auth_app.login_rate)."""
    return f"login-limited-{day:%Y-%m-%d}"


class UserCreated(EventData):
    """An account was registered (through the API, the demo loader or another service)."""

    user_id: int
    username: str
    email: str


class LoggedIn(EventData):
    """A user signed in. `session_id` names the session without being a credential:
    the knox token digest's prefix for API tokens, a hash prefix of the session key for browsers."""

    user_id: int
    username: str
    method: LoginMethod
    session_id: str
    ip: str
    user_agent: str


class LoggedOut(EventData):
    """A session ended: the user logged out (of this one or of all), a password change revoked
    it, or an API token expired unused (seen when it was next presented)."""

    user_id: int
    method: LoginMethod
    session_id: str
    session_duration_seconds: float
    reason: LogoutReason = "logout"


class FailedLoginAttempt(EventData):
    """A login failed or was refused. `username` is what the client typed (never the password),
    sealed like the ip; `username_key` the keyed hash it was counted under (auth_app.lockout).

    On the account's stream when the typed name matches one ignoring case, so forgetting
    that user erases it; otherwise on `login-<username_key>`, sealed with the day's shared
    key named in `sealed_for`: invented names add no key each."""

    username: str
    username_key: str
    ip: str
    reason: FailureReason
    sealed_for: str | None = None


class PasswordChanged(EventData):
    """A user changed their password; `revoked_sessions` of their other API tokens were ended."""

    user_id: int
    revoked_sessions: int


class AccountLocked(EventData):
    """Too many failed attempts for one username: logins for it are refused until `locked_until`.
    `username` (sealed), `username_key` and `sealed_for` as in the failed attempt that locked it."""

    username: str
    username_key: str
    failed_attempts: int
    locked_until: dt.datetime
    sealed_for: str | None = None


def _with_username_key(data: dict) -> dict:
    # v1 stored the typed name in clear and counted it by its lower-case form.
    from .lockout import username_key

    return {**data, "username_key": username_key(data["username"]), "sealed_for": None}


class LoginAttemptsLimited(EventData):
    """More than `limit` login attempts came from `ip` within `window_seconds`: the rest of that
    window's attempts from it were refused (429) without a password check and without an event
    each. Recorded once per address and window, so an attack at any speed adds this much to the log."""

    ip: str
    limit: int
    window_seconds: int


class ModeratorGranted(EventData):
    """A user joined the `moderators` group (`manage.py grant_moderator`)."""

    user_id: int
    username: str


class UserForgotten(EventData):
    """A user's personal data was crypto-shredded (`manage.py forget_user`, admin action):
    their data key is destroyed, so the email, ips, user agents and post and comment
    texts sealed with it read as erased from now on (docs/privacy.md). Who asked is
    `metadata.actor_id` (absent when run from the command line)."""

    user_id: int
    username: str


USER_CREATED = define_event("user:created", UserCreated, source="auth", personal_fields=("email",))
LOGIN = define_event("auth:login", LoggedIn, source="auth", personal_fields=("ip", "user_agent"))
LOGOUT = define_event("auth:logout", LoggedOut, source="auth")
FAILED_LOGIN_ATTEMPT = define_event(
    "auth:failed_login_attempt",
    FailedLoginAttempt,
    source="auth",
    version=2,
    upcasters={1: _with_username_key},
    personal_fields=("username", "ip"),
    personal_subject="sealed_for",
)
PASSWORD_CHANGE = define_event("auth:password_change", PasswordChanged, source="auth")
ACCOUNT_LOCKED = define_event(
    "auth:account_locked",
    AccountLocked,
    source="auth",
    version=2,
    upcasters={1: _with_username_key},
    personal_fields=("username",),
    personal_subject="sealed_for",
)
LOGIN_ATTEMPTS_LIMITED = define_event(
    "auth:login_attempts_limited", LoginAttemptsLimited, source="auth", personal_fields=("ip",)
)
MODERATOR_GRANTED = define_event("auth:moderator_granted", ModeratorGranted, source="auth")
USER_FORGOTTEN = define_event("user:forgotten", UserForgotten, source="auth")
