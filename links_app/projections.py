"""The inline projection `links.links`: Link and Scan rows from the link streams.

Handlers are pure functions of the event (and rows earlier events wrote), with
times taken from `recorded_at`, so `rebuild_projection` equals live state.

Every handler works on in-memory rows of a `_Rows` unit: a batch of events
loads the links and scans it names in two queries, applies each event in
order, then writes every touched row back with one upsert per table. Live,
each event is a batch of one (same code path); its read-modify-write of a link
is safe because every event touching a link is appended to that link's stream,
which serialises the writers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from types import SimpleNamespace

from django.db import IntegrityError

from eventstore import Projection, RecordedEvent, insert_rows, register_projection

from .events import (
    LINK_VERIFIED,
    SCAN_COMPLETED,
    SCAN_FAILED,
    SCAN_REQUESTED,
    SECURITY_ANALYSIS,
    THREAT_DETECTED,
)
from .models import Link, Scan, ScanStatus


def _new_row(model: type[Link | Scan], **values) -> SimpleNamespace:
    """A row of `model` (attributes named by column attname), its fields' defaults filled in.

    Plain objects, not model instances: a rebuild makes tens of thousands of
    rows and only reads and writes their attributes; Model.__init__ was most
    of this projection's Python time.
    """
    row = SimpleNamespace(**{f.attname: f.get_default() for f in model._meta.concrete_fields})
    for name, value in values.items():
        if not hasattr(row, name):  # as Model.__init__ would refuse it
            raise TypeError(f"{model.__name__} has no field {name!r}")
        setattr(row, name, value)
    return row


def _load_rows(model: type[Link | Scan], ids: set[str]) -> dict[str, SimpleNamespace]:
    attnames = [f.attname for f in model._meta.concrete_fields]
    return {str(r["id"]): SimpleNamespace(**r) for r in model.objects.filter(id__in=ids).values(*attnames)}


class _Rows:
    """The links and scans a batch of events reads and writes, keyed by their id as text."""

    def __init__(self, events: Sequence[RecordedEvent]) -> None:
        link_ids = {e.data["link_id"] for e in events}
        scan_ids = {e.data["scan_id"] for e in events if "scan_id" in e.data}
        self.links = _load_rows(Link, link_ids)
        self.scans = _load_rows(Scan, scan_ids)
        self.touched_links: set[str] = set()
        self.touched_scans: set[str] = set()

    def link(self, link_id: str) -> SimpleNamespace:
        link = self.links.get(str(link_id))
        if link is None:
            raise Link.DoesNotExist(f"no link {link_id}")
        return link

    def update_scan(self, scan_id: str, **fields) -> None:
        """Set fields of a stored scan; nothing when there is no such scan (like an UPDATE)."""
        scan = self.scans.get(str(scan_id))
        if scan is not None:
            for name, value in fields.items():
                setattr(scan, name, value)
            self.touched_scans.add(str(scan_id))

    def add_scan(self, scan: SimpleNamespace) -> None:
        if str(scan.id) in self.scans:
            raise IntegrityError(f"scan {scan.id} exists")
        self.scans[str(scan.id)] = scan
        self.touched_scans.add(str(scan.id))

    def touch_link(self, link: SimpleNamespace, event: RecordedEvent, **fields) -> None:
        for name, value in fields.items():
            setattr(link, name, value)
        link.stream_version = event.stream_version
        link.updated_at = event.recorded_at
        link.verdict = link.verified_verdict or link.scan_verdict
        self.links[str(link.id)] = link
        self.touched_links.add(str(link.id))

    def write(self) -> None:
        _upsert(Link, [self.links[i] for i in sorted(self.touched_links)])
        _upsert(Scan, [self.scans[i] for i in sorted(self.touched_scans)])


def _upsert(model: type[Link | Scan], objects: list) -> None:
    fields = [f for f in model._meta.concrete_fields]
    updates = ", ".join(f"{f.column} = excluded.{f.column}" for f in fields if not f.primary_key)
    rows = [[getattr(obj, f.attname) for f in fields] for obj in objects]
    insert_rows(model, [f.name for f in fields], rows, f"ON CONFLICT (id) DO UPDATE SET {updates}")


def on_scan_requested(rows: _Rows, event: RecordedEvent) -> None:
    data, at = event.data, event.recorded_at
    link = rows.links.get(str(data["link_id"]))
    if link is None:
        link = _new_row(
            Link,
            id=data["link_id"],
            url=data["url"],
            normalized_url=data["normalized_url"],
            domain=data["domain"],
            created_at=at,
            updated_at=at,
        )
    rows.add_scan(
        _new_row(
            Scan,
            id=data["scan_id"],
            link_id=link.id,
            url=data["url"],
            normalized_url=data["normalized_url"],
            requested_by_id=data.get("requested_by"),
            post_id=data.get("post_id"),
            request_correlation_id=event.correlation_id,
            requested_at=at,
            updated_at=at,
        )
    )
    rows.touch_link(
        link, event, latest_scan_id=data["scan_id"], status=ScanStatus.PENDING, scan_count=link.scan_count + 1
    )


def on_scan_completed(rows: _Rows, event: RecordedEvent) -> None:
    data = event.data
    rows.update_scan(
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
    link = rows.link(data["link_id"])
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
    rows.touch_link(link, event, **fields)


def on_security_analysis(rows: _Rows, event: RecordedEvent) -> None:
    data = event.data
    rows.update_scan(data["scan_id"], findings=data["findings"], updated_at=event.recorded_at)
    link = rows.link(data["link_id"])
    if str(link.result_scan_id) == str(data["scan_id"]):
        rows.touch_link(link, event, findings=data["findings"])
    else:
        rows.touch_link(link, event)


def on_threat_detected(rows: _Rows, event: RecordedEvent) -> None:
    # The verdict and category already came with scan_completed; only the version moves.
    rows.touch_link(rows.link(event.data["link_id"]), event)


def on_scan_failed(rows: _Rows, event: RecordedEvent) -> None:
    data = event.data
    retry_in = data.get("retry_in_seconds")
    rows.update_scan(
        data["scan_id"],
        status=ScanStatus.FAILED,
        failed_attempts=data["attempt"],
        failure_reason=data["reason"],
        last_failure_event_id=event.id,
        next_retry_at=event.recorded_at + dt.timedelta(seconds=retry_in) if retry_in is not None else None,
        updated_at=event.recorded_at,
    )
    link = rows.link(data["link_id"])
    fields = {"status": ScanStatus.FAILED} if str(link.latest_scan_id) == str(data["scan_id"]) else {}
    rows.touch_link(link, event, **fields)


def on_link_verified(rows: _Rows, event: RecordedEvent) -> None:
    data = event.data
    rows.touch_link(
        rows.link(data["link_id"]),
        event,
        verified_verdict=data["verdict"],
        verified_note=data.get("note", ""),
        verified_by_id=data["verified_by"],
        verified_by_username=data.get("verified_by_username", ""),
        verified_at=event.recorded_at,
    )


_HANDLERS: dict[str, Callable[[_Rows, RecordedEvent], None]] = {
    event_type.name: handler
    for event_type, handler in (
        (SCAN_REQUESTED, on_scan_requested),
        (SCAN_COMPLETED, on_scan_completed),
        (SECURITY_ANALYSIS, on_security_analysis),
        (THREAT_DETECTED, on_threat_detected),
        (SCAN_FAILED, on_scan_failed),
        (LINK_VERIFIED, on_link_verified),
    )
}


def apply_link_events(events: Sequence[RecordedEvent]) -> None:
    """Apply link events in order on the rows they name, then write those rows back."""
    events = [e for e in events if e.type in _HANDLERS]
    if not events:
        return
    rows = _Rows(events)
    for event in events:
        _HANDLERS[event.type](rows, event)
    rows.write()


def _apply_one(event: RecordedEvent) -> None:
    apply_link_events([event])


links_projection = register_projection(
    Projection(
        name="links.links",
        handlers=dict.fromkeys(_HANDLERS, _apply_one),
        models=[Scan, Link],
        description="Links with their latest scan result and moderator verdict; every scan.",
        batch_apply=apply_link_events,
    )
)
