"""Erasure receipts: after a forget, check every place a copy could live and store what was found.

`verify_erasure` runs the checks of eventstore.privacy.erasure_checks against
the traces collected before the forget and stores an `ErasureReceipt`; the
receipt passes only when no check found a readable copy. `receipt_lines`
renders it for the command line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.utils import timezone

from ..models import ErasureReceipt
from ..redis import REDIS_ERRORS, get_redis
from . import erasure_checks as checks
from .erasure_traces import SubjectTraces


def verify_erasure(
    traces: SubjectTraces,
    *,
    started_at: dt.datetime,
    erased: dict,
    extra_checks: Sequence[checks.ErasureCheck] = (),
    requested_by_id: int | None = None,
) -> ErasureReceipt:
    """ErasureCheck every place for readable copies of the forgotten subject's data; store the receipt.

    Run after the forget committed, so every check sees what any other reader
    would. `extra_checks` are the caller's own (the account row). Redis being
    unreachable is a failed check, not an exception: nothing was confirmed there.
    """
    results = [
        checks.check_key(traces),
        checks.check_event_log(traces),
        *_redis_checks(traces),
        checks.check_live_feed(),
        checks.check_projections(traces),
        *extra_checks,
        checks.check_parked_events(traces),
        checks.check_application_logs(traces),
        checks.check_archives(traces),
    ]
    return ErasureReceipt.objects.create(
        subject=traces.subject,
        requested_by_id=requested_by_id,
        started_at=started_at,
        finished_at=timezone.now(),
        passed=all(check.status != checks.CHECK_FAILED for check in results),
        erased={
            **erased,
            "sealed_values_unreadable": traces.sealed_values,
            "subject_events": len(traces.event_ids),
        },
        checks=[check.as_dict() for check in results],
    )


def _redis_checks(traces: SubjectTraces) -> list[checks.ErasureCheck]:
    redis = get_redis()
    try:
        return [checks.check_redis_streams(traces, redis), checks.check_other_redis_keys(traces, redis)]
    except (*REDIS_ERRORS, OSError) as exc:  # not checked means not confirmed
        reason = f"not confirmed: Redis unreachable ({type(exc).__name__})"
        return [
            checks.ErasureCheck("Redis event streams", checks.CHECK_FAILED, detail=reason),
            checks.ErasureCheck("other Redis keys (cache, task queues)", checks.CHECK_FAILED, detail=reason),
        ]
    finally:
        redis.close()


def failed_places(receipt: ErasureReceipt) -> list[str]:
    return [check["place"] for check in receipt.checks if check["status"] == checks.CHECK_FAILED]


def receipt_lines(receipt: ErasureReceipt) -> list[str]:
    verdict = "every check passed" if receipt.passed else "NOT confirmed: readable copies remain"
    lines = [
        f"Erasure receipt #{receipt.pk} for {receipt.subject}: {verdict}",
        f"  started {receipt.started_at.isoformat()}, finished {receipt.finished_at.isoformat()}",
        "  erased: " + ", ".join(f"{name} {value}" for name, value in receipt.erased.items()),
    ]
    for check in receipt.checks:
        lines.append(f"  [{check['status']}] {check['place']}: {check['detail']}")
    return lines
