"""Pure rules of the links app: link identity, result freshness, retry backoff."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings

# Fixed forever: link ids are derived from it, so changing it would split every link in two.
LINK_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "platform:links_app:link")

DEFAULT_RESCAN_AFTER = dt.timedelta(hours=24)
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_RETRY_BASE_SECONDS = 30
MAX_RETRY_DELAY_SECONDS = 3600


def link_id_for(normalized_url: str) -> uuid.UUID:
    """The link's id: the same normalised URL always gives the same id (uuid5)."""
    return uuid.uuid5(LINK_NAMESPACE, normalized_url)


def rescan_after() -> dt.timedelta:
    """How long a completed result answers repeat requests (setting LINK_RESCAN_AFTER)."""
    value = getattr(settings, "LINK_RESCAN_AFTER", DEFAULT_RESCAN_AFTER)
    return value if isinstance(value, dt.timedelta) else dt.timedelta(seconds=float(value))


def max_scan_attempts() -> int:
    return int(getattr(settings, "LINK_SCAN_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))


def retry_delay_seconds(
    attempt: int, *, base: int | None = None, max_attempts: int | None = None
) -> int | None:
    """Backoff after failed attempt number `attempt` (1-based): base·2^(attempt−1), capped.

    None when `attempt` was the last one allowed.
    """
    base = (
        int(getattr(settings, "LINK_SCAN_RETRY_BASE_SECONDS", DEFAULT_RETRY_BASE_SECONDS))
        if base is None
        else base
    )
    max_attempts = max_scan_attempts() if max_attempts is None else max_attempts
    if attempt >= max_attempts:
        return None
    return min(base * 2 ** (attempt - 1), MAX_RETRY_DELAY_SECONDS)


def is_recent(moment: dt.datetime | None, *, now: dt.datetime) -> bool:
    return moment is not None and moment >= now - rescan_after()
