"""Celery entry points of the links app; each calls a service."""

from __future__ import annotations

import logging
import uuid

from celery import shared_task
from django.utils import timezone

from eventstore import skipped_during_outages

from .selectors import scans_due_for_retry
from .services import link_scan_retry

logger = logging.getLogger(__name__)


@shared_task(name="links_app.tasks.perform_scan")
def perform_scan(scan_id: str) -> str | None:
    """Retry one scan (idempotent: a completed scan is not scanned again); returns its status."""
    scan = link_scan_retry(scan_id=uuid.UUID(scan_id))
    return scan.status if scan is not None else None


@shared_task(name="links_app.tasks.retry_failed_scans")
@skipped_during_outages("retry_failed_scans")  # every minute: one line per outage, not a traceback per run
def retry_failed_scans(limit: int = 100) -> int:
    """Rescan failed scans whose backoff has elapsed, so a lost retry message loses nothing."""
    retried = 0
    for scan_id in scans_due_for_retry(now=timezone.now(), limit=limit):
        try:
            link_scan_retry(scan_id=scan_id)
            retried += 1
        except Exception:  # one bad scan must not stop the sweep
            logger.exception("retry of scan %s failed", scan_id)
    return retried
