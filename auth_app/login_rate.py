"""Login attempts per client address, counted in Redis before anything else happens.

The lockout (auth_app.lockout) records every attempt it judges, which is what
lets staff see an attack; but recording is what an attacker at full speed
would turn into unbounded growth of the permanent log. So at most
`LOGIN_IP_RATE_ATTEMPTS` (30) attempts per address per
`LOGIN_IP_RATE_WINDOW_SECONDS` (60) reach the lockout; beyond that an attempt
is refused with 429 without a password check and without an event, and one
`auth:login_attempts_limited` per address and window records that it happened.

Counters live in the cache (Redis), keyed by a hash of the address (no
address in clear in Redis). While Redis is down nothing is counted here and
the lockout still applies.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


def attempts_limit() -> int:
    return settings.LOGIN_IP_RATE_ATTEMPTS


def window_seconds() -> int:
    return settings.LOGIN_IP_RATE_WINDOW_SECONDS


@dataclass(frozen=True)
class AttemptCount:
    """This attempt's number within its address's current window, and when the window ends."""

    number: int
    retry_after: int

    @property
    def over_limit(self) -> bool:
        return self.number > attempts_limit()

    @property
    def first_over_limit(self) -> bool:
        """The first refused attempt of the window: the one that gets the window's summary recorded."""
        return self.number == attempts_limit() + 1


def count_attempt(ip: str, now: float | None = None) -> AttemptCount:
    """Count one attempt from `ip` (number 0 when Redis cannot count, i.e. never over the limit)."""
    now = time.time() if now is None else now
    window = window_seconds()
    started = math.floor(now / window) * window
    retry_after = max(1, math.ceil(started + window - now))
    key = f"login-rate:{started}:{hashlib.sha256(ip.encode()).hexdigest()[:32]}"
    cache.add(key, 0, timeout=window + 5)
    try:
        number = cache.incr(key)
    except ValueError:  # the key vanished (evicted, Redis restarted empty)
        number = 0
    return AttemptCount(number=number or 0, retry_after=retry_after)
