"""The inline projection `links.links`: Link and Scan rows from the link streams.

Handlers are pure functions of the event (and rows earlier events wrote), with
times taken from `recorded_at`, so `rebuild_projection` equals live state.

They write through a `ProjectionBatch` (eventstore.projection_batch): a batch
of events first loads the links and scans it names, then each handler reads
and changes them in memory, and the batch writes them back at the end. Live,
each event is a batch of one; its read-modify-write of a link is safe because
every event touching a link is appended to that link's stream, which
serialises the writers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from eventstore import ProjectionBatch, RecordedEvent, Row, batched_projection, register_projection

from .events import (
    LINK_VERIFIED,
    SCAN_COMPLETED,
    SCAN_FAILED,
    SCAN_REQUESTED,
    SECURITY_ANALYSIS,
    THREAT_DETECTED,
)
from .models import Link, Scan, ScanStatus


def load_links_and_scans(batch: ProjectionBatch, events: Sequence[RecordedEvent]) -> None:
    # One array parameter each: a rebuild's batch names thousands (ProjectionBatch.load_in).
    batch.load_in(Link, "id", {e.data["link_id"] for e in events})
    batch.load_in(Scan, "id", {e.data["scan_id"] for e in events if "scan_id" in e.data})


def _link_changed(batch: ProjectionBatch, link: Row, event: RecordedEvent, **fields) -> None:
    """Every event of a link's stream moves its version; the verdict shown is the moderator's, else the scan's."""
    batch.update(
        Link, link["id"], **fields, stream_version=event.stream_version, updated_at=event.recorded_at
    )
    batch.update(Link, link["id"], verdict=link["verified_verdict"] or link["scan_verdict"])


def on_scan_requested(batch: ProjectionBatch, event: RecordedEvent) -> None:
    data, at = event.data, event.recorded_at
    link = batch.find(Link, data["link_id"]) or batch.insert(
        Link,
        id=data["link_id"],
        url=data["url"],
        normalized_url=data["normalized_url"],
        domain=data["domain"],
        created_at=at,
        updated_at=at,
    )
    batch.insert(
        Scan,
        id=data["scan_id"],
        link_id=link["id"],
        url=data["url"],
        normalized_url=data["normalized_url"],
        requested_by_id=data.get("requested_by"),
        post_id=data.get("post_id"),
        request_correlation_id=event.correlation_id,
        requested_at=at,
        updated_at=at,
    )
    _link_changed(
        batch,
        link,
        event,
        latest_scan_id=data["scan_id"],
        status=ScanStatus.PENDING,
        scan_count=link["scan_count"] + 1,
    )


def on_scan_completed(batch: ProjectionBatch, event: RecordedEvent) -> None:
    data = event.data
    batch.update(
        Scan,
        data["scan_id"],
        status=ScanStatus.COMPLETED,
        verdict=data["verdict"],
        safety_score=data["safety_score"],
        threat_category=data.get("threat_category"),
        model_score=data["model_score"],
        next_retry_at=None,
        completed_at=event.recorded_at,
        updated_at=event.recorded_at,
    )
    link = batch.get(Link, data["link_id"])
    fields = {
        "result_scan_id": data["scan_id"],
        "scan_verdict": data["verdict"],
        "safety_score": data["safety_score"],
        "threat_category": data.get("threat_category"),
        "findings": [],
        "last_scanned_at": event.recorded_at,
    }
    if link["latest_scan_id"] == data["scan_id"]:
        fields["status"] = ScanStatus.COMPLETED
    _link_changed(batch, link, event, **fields)


def on_security_analysis(batch: ProjectionBatch, event: RecordedEvent) -> None:
    data = event.data
    batch.update(Scan, data["scan_id"], findings=data["findings"], updated_at=event.recorded_at)
    link = batch.get(Link, data["link_id"])
    if link["result_scan_id"] == data["scan_id"]:
        _link_changed(batch, link, event, findings=data["findings"])
    else:
        _link_changed(batch, link, event)


def on_threat_detected(batch: ProjectionBatch, event: RecordedEvent) -> None:
    # The verdict and category already came with scan_completed; only the version moves.
    _link_changed(batch, batch.get(Link, event.data["link_id"]), event)


def on_scan_failed(batch: ProjectionBatch, event: RecordedEvent) -> None:
    data = event.data
    retry_in = data.get("retry_in_seconds")
    batch.update(
        Scan,
        data["scan_id"],
        status=ScanStatus.FAILED,
        failed_attempts=data["attempt"],
        failure_reason=data["reason"],
        last_failure_event_id=event.id,
        next_retry_at=event.recorded_at + dt.timedelta(seconds=retry_in) if retry_in is not None else None,
        updated_at=event.recorded_at,
    )
    link = batch.get(Link, data["link_id"])
    fields = {"status": ScanStatus.FAILED} if link["latest_scan_id"] == data["scan_id"] else {}
    _link_changed(batch, link, event, **fields)


def on_link_verified(batch: ProjectionBatch, event: RecordedEvent) -> None:
    data = event.data
    _link_changed(
        batch,
        batch.get(Link, data["link_id"]),
        event,
        verified_verdict=data["verdict"],
        verified_note=data.get("note", ""),
        verified_by_id=data["verified_by"],
        verified_by_username=data.get("verified_by_username", ""),
        verified_at=event.recorded_at,
    )


links_projection = register_projection(
    batched_projection(
        name="links.links",
        handlers={
            SCAN_REQUESTED: on_scan_requested,
            SCAN_COMPLETED: on_scan_completed,
            SECURITY_ANALYSIS: on_security_analysis,
            THREAT_DETECTED: on_threat_detected,
            SCAN_FAILED: on_scan_failed,
            LINK_VERIFIED: on_link_verified,
        },
        models=[Scan, Link],
        load=load_links_and_scans,
        description="Links with their latest scan result and moderator verdict; every scan.",
    )
)
