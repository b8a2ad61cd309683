"""Lockout policy: thresholds, the username key, and the clock the checks compare with.

Thresholds are read from settings on every use, with the defaults below, so an
environment can tune them without editing shared code:

- `LOGIN_LOCKOUT_ATTEMPTS` (5) failed attempts for one username within
  `LOGIN_LOCKOUT_WINDOW_SECONDS` (900) lock that username for
  `LOGIN_LOCKOUT_SECONDS` (900), even for the right password.
- `LOGIN_IP_LOCKOUT_ATTEMPTS` (20) failed attempts from one ip within the same
  window, across usernames (password spraying), lock that ip for the same time.

Refused attempts (reason `locked` / `ip_locked`) are recorded but neither
count nor extend a lock: the `Retry-After` a client is told stays true, and a
lock ends when announced. Each lock also consumes the failures that caused it,
so after it expires counting starts afresh.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import math
import unicodedata

from django.conf import settings
from django.utils import timezone

DEFAULT_ATTEMPTS = 5
DEFAULT_IP_ATTEMPTS = 20
DEFAULT_WINDOW_SECONDS = 15 * 60
DEFAULT_LOCK_SECONDS = 15 * 60

# Reasons that mean "a password was tried and was not accepted".
COUNTED_REASONS = frozenset({"unknown_user", "wrong_password", "inactive_user"})

SCOPE_USERNAME = "username"
SCOPE_IP = "ip"


def attempts_limit() -> int:
    return getattr(settings, "LOGIN_LOCKOUT_ATTEMPTS", DEFAULT_ATTEMPTS)


def ip_attempts_limit() -> int:
    return getattr(settings, "LOGIN_IP_LOCKOUT_ATTEMPTS", DEFAULT_IP_ATTEMPTS)


def window() -> dt.timedelta:
    return dt.timedelta(seconds=getattr(settings, "LOGIN_LOCKOUT_WINDOW_SECONDS", DEFAULT_WINDOW_SECONDS))


def lock_duration() -> dt.timedelta:
    return dt.timedelta(seconds=getattr(settings, "LOGIN_LOCKOUT_SECONDS", DEFAULT_LOCK_SECONDS))


def username_key(username: str) -> str:
    """The key failures are counted and filed under: a keyed hash of the typed name.

    Case, Unicode compatibility forms and surrounding spaces do not make a new
    name (`ALICE` is `alice`). Keyed (HMAC with a key derived from
    `PERSONAL_DATA_MASTER_KEY`), so the key in a stream id or a projection row
    does not give back what was typed: people type emails and passwords into
    that box. Events store the key they were counted under (auth:failed_login_attempt
    v2), so replays do not depend on this function; rotating the master key
    only makes counting start afresh under new keys.
    """
    folded = unicodedata.normalize("NFKC", username).strip().lower()
    return hmac.new(
        _username_hash_key(settings.PERSONAL_DATA_MASTER_KEY), folded.encode(), "sha256"
    ).hexdigest()[:32]


@functools.cache
def _username_hash_key(master_key: str) -> bytes:
    return hashlib.sha256(b"platform login username key\0" + master_key.encode()).digest()


def retry_after_seconds(locked_until: dt.datetime, now: dt.datetime) -> int:
    """Whole seconds until `locked_until`, rounded up, at least 1 (a Retry-After value)."""
    return max(1, math.ceil((locked_until - now).total_seconds()))


def current_time() -> dt.datetime:
    """The time lock checks compare with (one place, so tests can move it forward)."""
    return timezone.now()
