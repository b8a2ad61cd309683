"""Figures the live dashboard and /metrics show: rates, type mix, health of the pieces."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Sum
from django.utils import timezone

from eventstore.horizon_report import horizon_report
from eventstore.models import Checkpoint, EventStat
from eventstore.monitoring import check_redis_serves_streams, head_position, relay_lag
from eventstore.selectors import subscriber_status

logger = logging.getLogger(__name__)
WINDOW_MINUTES = 60
RELAY_STALE_AFTER = dt.timedelta(seconds=30)
DEFAULT_WORKER_PING_TIMEOUT = 0.5


def _window_start(now: dt.datetime, minutes: int) -> dt.datetime:
    return now.replace(second=0, microsecond=0) - dt.timedelta(minutes=minutes - 1)


def events_per_minute(*, now: dt.datetime, minutes: int = WINDOW_MINUTES) -> list[dict]:
    """Events counted per minute over the last `minutes` (zeros included), oldest first."""
    start = _window_start(now, minutes)
    counts = dict(
        EventStat.objects.filter(minute__gte=start)
        .values("minute")
        .annotate(total=Sum("count"))
        .values_list("minute", "total")
    )
    minutes_list = [start + dt.timedelta(minutes=i) for i in range(minutes)]
    return [{"minute": minute.isoformat(), "count": counts.get(minute, 0)} for minute in minutes_list]


def type_distribution(*, now: dt.datetime, minutes: int = WINDOW_MINUTES) -> list[dict]:
    """Events per type over the last `minutes`, most frequent first."""
    rows = (
        EventStat.objects.filter(minute__gte=_window_start(now, minutes))
        .values("type", "source")
        .annotate(total=Sum("count"))
        .order_by("-total", "type")
    )
    return [{"type": row["type"], "source": row["source"], "count": row["total"]} for row in rows]


def events_by_type_total() -> list[tuple[str, str, int]]:
    """(type, source, count) over the whole log, from the event-statistics projection."""
    rows = EventStat.objects.values("type", "source").annotate(total=Sum("count")).order_by("type")
    return [(row["type"], row["source"], row["total"]) for row in rows]


def _check_redis() -> dict:
    try:
        check_redis_serves_streams()
        return {"status": "ok"}
    except Exception as exc:  # any Redis failure is reported, never raised to the page
        logger.warning("dashboard: Redis unreachable: %r", exc)
        return {"status": "unavailable", "detail": "Redis does not serve the event streams"}


def _check_relay() -> dict:
    lag = relay_lag()
    checkpoint = Checkpoint.objects.filter(name="relay").first()
    moved_recently = checkpoint is not None and timezone.now() - checkpoint.updated_at < RELAY_STALE_AFTER
    status = "ok" if lag == 0 or moved_recently else "behind"
    return {
        "status": status,
        "lag": lag,
        "head": head_position(),
        "checkpoint": checkpoint.position if checkpoint else 0,
    }


def _check_horizon() -> dict:
    """ "stalled" while an old transaction holds every follower back, naming it."""
    report = horizon_report()
    return {**report.as_dict(), "detail": report.summary()}


def _check_workers() -> dict:
    from platform_site.celery import app

    try:
        timeout = getattr(settings, "WORKER_PING_TIMEOUT_SECONDS", DEFAULT_WORKER_PING_TIMEOUT)
        replies = app.control.ping(timeout=timeout)
    except Exception as exc:  # broker down: the workers cannot be reached either
        logger.warning("dashboard: cannot ping workers: %r", exc)
        return {"status": "unavailable", "count": 0, "names": []}
    names = sorted(name for reply in replies for name in reply)
    return {"status": "ok" if names else "unavailable", "count": len(names), "names": names}


def platform_health() -> dict:
    """Postgres, Redis, the relay and the Celery workers, each "ok" or what is wrong."""
    health: dict[str, dict] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        health["postgres"] = {"status": "ok"}
        health["relay"] = _check_relay()
        health["horizon"] = _check_horizon()
    except DatabaseError as exc:
        logger.warning("dashboard: Postgres unreachable: %r", exc)
        health["postgres"] = {"status": "unavailable", "detail": "Postgres does not answer"}
        health["relay"] = {"status": "unknown", "detail": "needs Postgres"}
    health["redis"] = _check_redis()
    health["workers"] = _check_workers()
    return health


def dashboard_status(*, now: dt.datetime) -> dict:
    """Everything the dashboard refreshes periodically, as JSON-ready data."""
    return {
        "generated_at": now.isoformat(),
        "health": platform_health(),
        "subscribers": subscriber_status(),
        "per_minute": events_per_minute(now=now),
        "by_type": type_distribution(now=now),
    }
