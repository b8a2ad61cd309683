"""GET /health/: each dependency checked, 503 naming the one that fails."""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from eventstore.monitoring import check_redis_serves_streams
from eventstore.redis import REDIS_ERRORS

logger = logging.getLogger(__name__)


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_redis() -> str:
    check_redis_serves_streams()
    return "ok"


@never_cache
def health(request):
    checks: dict[str, object] = {}
    failing: list[str] = []
    for name, check, errors in (
        ("database", _check_database, (DatabaseError,)),
        ("redis", _check_redis, (*REDIS_ERRORS, OSError)),
    ):
        try:
            checks[name] = check()
        except errors as exc:
            logger.warning("health check %s failed: %s", name, exc)
            checks[name] = "unavailable"
            failing.append(name)
    degraded: list[str] = []
    if "database" not in failing:
        from eventstore.horizon_report import horizon_report
        from eventstore.monitoring import relay_lag

        checks["relay_lag"] = relay_lag()
        # A stalled horizon stops delivery while relay_lag still reads 0: named here.
        report = horizon_report()
        checks["horizon"] = report.as_dict()
        if report.stalled:
            degraded.append("horizon")
        from eventstore.monitoring import default_partition_events
        from eventstore.partitions import spans_ahead

        # Fewer than one partition ahead: appends would soon land in the default partition.
        checks["log_partitions_ahead"] = round(spans_ahead(), 2)
        if checks["log_partitions_ahead"] < 1:
            degraded.append("log_partitions_ahead")
        # Events the default partition caught: safe, but partitions were not made in time (eventstore.partitions).
        checks["log_default_partition_events"] = default_partition_events()
        if checks["log_default_partition_events"]:
            degraded.append("log_default_partition_events")
    status = "unavailable" if failing else "degraded" if degraded else "ok"
    body = {"status": status, "checks": checks}
    if failing:
        body["failing"] = failing
    if degraded:
        body["degraded"] = degraded  # still 200: the platform serves; delivery waits
    return JsonResponse(body, status=200 if not failing else 503)
