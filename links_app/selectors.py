"""Queries of the links app, reading its projections (Link, Scan)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from django.db.models import Count, QuerySet

from .models import Link, Scan, ScanStatus
from .services.policy import max_scan_attempts


def link_summaries(normalized_urls: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What the links app knows of these normalised URLs, in one query.

    Unknown URLs are absent. `verdict` is the effective verdict (a moderator's
    verification overrides the scanner's); `safety_score` is the latest
    completed scan's.
    """
    if not normalized_urls:
        return {}
    rows = Link.objects.filter(normalized_url__in=set(normalized_urls)).values(
        "id", "normalized_url", "status", "verdict", "safety_score"
    )
    return {
        row["normalized_url"]: {
            "id": row["id"],
            "url": row["normalized_url"],
            "status": row["status"],
            "verdict": row["verdict"],
            "safety_score": row["safety_score"],
        }
        for row in rows
    }


def link_get(*, link_id: uuid.UUID) -> Link | None:
    return Link.objects.filter(id=link_id).first()


def link_get_by_normalized_url(*, normalized_url: str) -> Link | None:
    return Link.objects.filter(normalized_url=normalized_url).first()


def link_list(*, domain: str | None = None, verdict: str | None = None) -> QuerySet[Link]:
    """Links, most recently changed first, filtered by registered domain and effective verdict."""
    links = Link.objects.all()
    if domain:
        links = links.filter(domain=domain.lower())
    if verdict:
        links = links.filter(verdict=verdict)
    return links.order_by("-updated_at", "normalized_url")


def scan_get(*, scan_id: uuid.UUID) -> Scan | None:
    return Scan.objects.select_related("link").filter(id=scan_id).first()


def latest_scan_of(*, link: Link) -> Scan | None:
    return Scan.objects.select_related("link").filter(link=link).order_by("-requested_at").first()


def completed_scans_by_verdict() -> dict[str | None, int]:
    """Completed scans per scanner verdict (a scan completes at most once: one per `link:scan_completed`)."""
    rows = (
        Scan.objects.filter(status=ScanStatus.COMPLETED)
        .values("verdict")
        .annotate(total=Count("id"))
        .order_by("verdict")
    )
    return {row["verdict"]: row["total"] for row in rows}


def scans_due_for_retry(*, now: dt.datetime, limit: int = 100) -> list[uuid.UUID]:
    """Failed scans whose backoff has elapsed and that have attempts left, oldest due first."""
    return list(
        Scan.objects.filter(
            status=ScanStatus.FAILED, next_retry_at__lte=now, failed_attempts__lt=max_scan_attempts()
        )
        .order_by("next_retry_at")
        .values_list("id", flat=True)[:limit]
    )
