"""The inline projection `links.links`: Link and Scan rows from the link streams.

Handlers are pure functions of the event (and rows earlier events wrote), with
times taken from `recorded_at`, so `rebuild_projection` equals live state.
"""

from __future__ import annotations

import datetime as dt

from eventstore.envelope import RecordedEvent
from eventstore.projections import Projection, register_projection

from .models import Link, Scan, ScanStatus


def _touch_link(link: Link, event: RecordedEvent, **fields) -> None:
    for name, value in fields.items():
        setattr(link, name, value)
    link.stream_version = event.stream_version
    link.updated_at = event.recorded_at
    link.verdict = link.verified_verdict or link.scan_verdict
    link.save()


def on_scan_requested(event: RecordedEvent) -> None:
    data = event.data
    link, _ = Link.objects.get_or_create(
        id=data["link_id"],
        defaults={
            "url": data["url"],
            "normalized_url": data["normalized_url"],
            "domain": data["domain"],
            "created_at": event.recorded_at,
            "updated_at": event.recorded_at,
        },
    )
    Scan.objects.create(
        id=data["scan_id"],
        link=link,
        url=data["url"],
        normalized_url=data["normalized_url"],
        requested_by_id=data.get("requested_by"),
        post_id=data.get("post_id"),
        request_correlation_id=event.correlation_id,
        requested_at=event.recorded_at,
        updated_at=event.recorded_at,
    )
    _touch_link(
        link, event, latest_scan_id=data["scan_id"], status=ScanStatus.PENDING, scan_count=link.scan_count + 1
    )


def on_scan_completed(event: RecordedEvent) -> None:
    data = event.data
    Scan.objects.filter(id=data["scan_id"]).update(
        status=ScanStatus.COMPLETED,
        verdict=data["verdict"],
        safety_score=data["safety_score"],
        threat_category=data.get("threat_category"),
        model_score=data["model_score"],
        next_retry_at=None,
        completed_at=event.recorded_at,
        updated_at=event.recorded_at,
    )
    link = Link.objects.get(id=data["link_id"])
    fields = {
        "result_scan_id": data["scan_id"],
        "scan_verdict": data["verdict"],
        "safety_score": data["safety_score"],
        "threat_category": data.get("threat_category"),
        "findings": [],
        "last_scanned_at": event.recorded_at,
    }
    if str(link.latest_scan_id) == str(data["scan_id"]):
        fields["status"] = ScanStatus.COMPLETED
    _touch_link(link, event, **fields)


def on_security_analysis(event: RecordedEvent) -> None:
    data = event.data
    Scan.objects.filter(id=data["scan_id"]).update(findings=data["findings"], updated_at=event.recorded_at)
    link = Link.objects.get(id=data["link_id"])
    if str(link.result_scan_id) == str(data["scan_id"]):
        _touch_link(link, event, findings=data["findings"])
    else:
        _touch_link(link, event)


def on_threat_detected(event: RecordedEvent) -> None:
    # The verdict and category already came with scan_completed; only the version moves.
    _touch_link(Link.objects.get(id=event.data["link_id"]), event)


def on_scan_failed(event: RecordedEvent) -> None:
    data = event.data
    retry_in = data.get("retry_in_seconds")
    Scan.objects.filter(id=data["scan_id"]).update(
        status=ScanStatus.FAILED,
        failed_attempts=data["attempt"],
        failure_reason=data["reason"],
        last_failure_event_id=event.id,
        next_retry_at=event.recorded_at + dt.timedelta(seconds=retry_in) if retry_in is not None else None,
        updated_at=event.recorded_at,
    )
    link = Link.objects.get(id=data["link_id"])
    fields = {"status": ScanStatus.FAILED} if str(link.latest_scan_id) == str(data["scan_id"]) else {}
    _touch_link(link, event, **fields)


def on_link_verified(event: RecordedEvent) -> None:
    data = event.data
    _touch_link(
        Link.objects.get(id=data["link_id"]),
        event,
        verified_verdict=data["verdict"],
        verified_note=data.get("note", ""),
        verified_by_id=data["verified_by"],
        verified_by_username=data.get("verified_by_username", ""),
        verified_at=event.recorded_at,
    )


links_projection = register_projection(
    Projection(
        name="links.links",
        handlers={
            "link:scan_requested": on_scan_requested,
            "link:scan_completed": on_scan_completed,
            "link:security_analysis": on_security_analysis,
            "link:threat_detected": on_threat_detected,
            "link:scan_failed": on_scan_failed,
            "link:link_verified": on_link_verified,
        },
        models=[Scan, Link],
        description="Links with their latest scan result and moderator verdict; every scan.",
    )
)
