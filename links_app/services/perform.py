"""Performing a scan: run the scanner, record its result, or record the crash and retry."""

from __future__ import annotations

import logging
import uuid

from django.db import transaction

from eventstore import atomic_command, event_context, publish, publish_many

from ..events import (
    SCAN_COMPLETED,
    SCAN_FAILED,
    SECURITY_ANALYSIS,
    THREAT_DETECTED,
    FindingData,
    ScanCompleted,
    ScanFailed,
    SecurityAnalysis,
    ThreatDetected,
    link_stream,
)
from ..models import Scan, ScanStatus
from ..scanner import InvalidURL, ScanResult, scan_url
from .policy import retry_delay_seconds

logger = logging.getLogger(__name__)
# Used when the scanner judges a link dangerous without naming a category.
UNKNOWN_THREAT_CATEGORY = "unknown"
MAX_REASON_LENGTH = 2000


def _is_done(scan: Scan) -> bool:
    if scan.status == ScanStatus.COMPLETED:
        return True
    return scan.status == ScanStatus.FAILED and scan.next_retry_at is None


@atomic_command(retry_conflicts=True)
def link_scan_perform(*, scan_id: uuid.UUID) -> Scan | None:
    """Scan the URL of a requested scan and record `link:scan_completed`, `link:security_analysis`
    and, for a suspicious or malicious verdict, `link:threat_detected`.

    Idempotent: a completed scan (or one out of attempts) is not scanned again
    and nothing is recorded. When the scanner raises, records `link:scan_failed`
    (reason, attempt) and, after commit, schedules a retry with backoff. Safe
    to rerun on a conflict (a concurrent perform of the same scan): the rerun
    finds the scan completed. Returns the scan, or None for an unknown id.
    """
    scan = Scan.objects.select_related("link").filter(id=scan_id).first()
    if scan is None:
        logger.warning("link_scan_perform: no scan %s", scan_id)
        return None
    if _is_done(scan):
        return scan
    try:
        result = scan_url(scan.url)
    except Exception as exc:  # any scanner crash is recorded, never lost
        _record_failure(scan, exc)
    else:
        _record_result(scan, result)
    return Scan.objects.select_related("link").get(id=scan_id)


def _record_result(scan: Scan, result: ScanResult) -> None:
    link = scan.link
    category = result.threat_category
    if result.verdict != "safe" and not category:
        category = UNKNOWN_THREAT_CATEGORY
    findings = [FindingData(code=f.code, severity=f.severity, message=f.message) for f in result.findings]
    events = [
        (
            SCAN_COMPLETED,
            ScanCompleted(
                scan_id=scan.id,
                link_id=link.id,
                normalized_url=link.normalized_url,
                safety_score=result.safety_score,
                verdict=result.verdict,
                threat_category=category,
                model_score=result.model_score,
                attempt=scan.failed_attempts + 1,
            ),
        ),
        (SECURITY_ANALYSIS, SecurityAnalysis(scan_id=scan.id, link_id=link.id, findings=findings)),
    ]
    if result.verdict != "safe":
        events.append(
            (
                THREAT_DETECTED,
                ThreatDetected(
                    scan_id=scan.id,
                    link_id=link.id,
                    normalized_url=link.normalized_url,
                    verdict=result.verdict,
                    threat_category=category,
                    safety_score=result.safety_score,
                    moderator_verdict=link.verified_verdict or None,
                ),
            )
        )
    # One append: consecutive versions after the link's, all of them or none.
    publish_many(link_stream(link.id), events, expected_version=link.stream_version)


def _record_failure(scan: Scan, exc: Exception) -> None:
    attempt = scan.failed_attempts + 1
    # A URL the scanner refuses will be refused again: no point retrying it.
    retry_in = None if isinstance(exc, InvalidURL) else retry_delay_seconds(attempt)
    reason = f"{type(exc).__name__}: {exc}"[:MAX_REASON_LENGTH]
    logger.warning("scan %s failed (attempt %d): %s", scan.id, attempt, reason)
    publish(
        SCAN_FAILED,
        stream_id=link_stream(scan.link_id),
        expected_version=scan.link.stream_version,
        data=ScanFailed(
            scan_id=scan.id,
            link_id=scan.link_id,
            normalized_url=scan.normalized_url,
            reason=reason,
            attempt=attempt,
            retry_in_seconds=retry_in,
        ),
    )
    if retry_in is not None:
        scan_id = scan.id
        transaction.on_commit(lambda: send_retry(scan_id, countdown=retry_in))


def send_retry(scan_id: uuid.UUID, *, countdown: int) -> bool:
    """Send the retry task; a broker failure is logged, not raised (the sweep catches up)."""
    from ..tasks import perform_scan

    try:
        perform_scan.apply_async(args=[str(scan_id)], countdown=countdown, retry=False)
    except Exception:  # Redis down must not fail the committed command
        logger.exception("could not schedule retry of scan %s; retry_failed_scans will pick it up", scan_id)
        return False
    return True


def link_scan_retry(*, scan_id: uuid.UUID) -> Scan | None:
    """Perform a scan again as part of its request's correlation chain, caused by its last failure."""
    scan = Scan.objects.filter(id=scan_id).only("request_correlation_id", "last_failure_event_id").first()
    if scan is None:
        return None
    with event_context(correlation_id=scan.request_correlation_id, causation_id=scan.last_failure_event_id):
        return link_scan_perform(scan_id=scan_id)
