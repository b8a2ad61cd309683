"""Queries of the event explorer: a filtered page of the log, a stream's history, a causal tree."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from eventstore import read_stream
from eventstore.models import Event
from eventstore.privacy.redaction import redact_event, redact_event_dict
from eventstore.registry import registered_event_types
from eventstore.selectors import READ_PAGE_LIMIT, causal_chain, in_windows, stream_positions

PAGE_SIZE = 50
STREAM_PAGE_SIZE = 200  # events of one stream page (each shown with its state)
SINCE_CHOICES = {
    "15m": ("last 15 minutes", dt.timedelta(minutes=15)),
    "1h": ("last hour", dt.timedelta(hours=1)),
    "24h": ("last 24 hours", dt.timedelta(hours=24)),
    "7d": ("last 7 days", dt.timedelta(days=7)),
}


@dataclass(frozen=True)
class EventFilter:
    """What the explorer's filter form asks for; empty means "any"."""

    type: str = ""
    source: str = ""
    stream_id: str = ""
    since: str = ""
    before: int | None = None  # keyset cursor: only positions below this (older events)


def known_types_and_sources() -> tuple[list[str], list[str]]:
    types = registered_event_types()
    return sorted(types), sorted({event_type.source for event_type in types.values()})


def event_page(filters: EventFilter, *, now: dt.datetime) -> tuple[list[Event], int | None]:
    """One page of events, newest first, and the cursor of the next (older) page or None."""
    events = Event.objects.defer("data", "metadata").order_by("-position")
    if filters.type:
        events = events.filter(type=filters.type)
    if filters.source:
        events = events.filter(source=filters.source)
    if filters.since in SINCE_CHOICES:
        events = events.filter(recorded_at__gte=now - SINCE_CHOICES[filters.since][1])
    if filters.before is not None:
        events = events.filter(position__lt=filters.before)
    if filters.stream_id:
        rows = _stream_rows(events, filters, PAGE_SIZE + 1)
    else:
        rows = in_windows(events, PAGE_SIZE + 1, newest_first=True, before=filters.before)
    next_before = rows[PAGE_SIZE - 1].position if len(rows) > PAGE_SIZE else None
    return rows[:PAGE_SIZE], next_before


# The stream's positions read per statement of the stream filter: the events' read by them is
# planned over at most this many partitions (fewer than a window's 64, partitions.position_windows).
STREAM_CHUNK = PAGE_SIZE + 1


def _stream_rows(events, filters: EventFilter, wanted: int) -> list[Event]:
    """Up to `wanted` of `events` in the stream `filters.stream_id`, newest first.

    Its positions come from its keys a chunk at a time, newest first; each
    chunk's events are read at those positions (with the page's other
    filters), until the page is full or the stream ends.
    """
    rows: list[Event] = []
    for chunk in stream_positions(filters.stream_id, before=filters.before, chunk=STREAM_CHUNK):
        rows += events.filter(position__in=chunk)[: wanted - len(rows)]
        if len(rows) >= wanted:
            break
    return rows


def stream_history(
    stream_id: str, *, after_version: int = 0, limit: int | None = None, personal_data: bool = True
) -> tuple[list[dict], int | None]:
    """A page of the stream's events in version order, each with the state after it.

    The state is a generic fold of the events' data (each field as last
    recorded), so it works for every stream type without knowing its
    projection; `changed` names the fields this event set to a new value. The
    fold starts at the page's first event. Returns the page and the
    `after_version` of the next page (None on the last). Without
    `personal_data` the personal values are redacted (eventstore.privacy.redaction).
    """
    limit = limit or STREAM_PAGE_SIZE
    events = read_stream(stream_id, after_version=after_version, limit=limit + 1)
    next_after = events[limit - 1].stream_version if len(events) > limit else None
    state: dict = {}
    history = []
    for event in events[:limit]:
        if not personal_data:
            event = redact_event(event)
        changed = sorted(key for key, value in event.data.items() if key not in state or state[key] != value)
        state = {**state, **event.data}
        history.append({"event": event, "state": state, "changed": changed})
    return history, next_after


def _millis(delta: dt.timedelta) -> int:
    return round(delta.total_seconds() * 1000)


def correlation_tree(correlation_id: uuid.UUID, *, personal_data: bool = True) -> dict | None:
    """Every event of one correlation id as a tree of causes, with timings; None when unknown.

    Roots are the events caused by the request (or job) itself; each node's
    children are the events its handlers published. Times are offsets from the
    first event and from the node's cause.
    """
    chain = causal_chain(correlation_id, limit=READ_PAGE_LIMIT)
    if not personal_data:
        chain = [redact_event_dict(event) for event in chain]
    if not chain:
        return None
    by_id = {event["id"]: event for event in chain}
    start = chain[0]["recorded_at"]
    seen: set[uuid.UUID] = set()

    def node(event: dict, cause_time: dt.datetime, depth: int) -> dict:
        seen.add(event["id"])
        children = [
            node(by_id[child], event["recorded_at"], depth + 1)
            for child in event["caused"]
            if child in by_id and child not in seen
        ]
        return {
            "event": event,
            "offset_ms": _millis(event["recorded_at"] - start),
            "after_cause_ms": _millis(event["recorded_at"] - cause_time),
            "depth": depth,
            "children": children,
        }

    roots = [node(event, start, 0) for event in chain if event["causation_id"] not in by_id]
    return {
        "correlation_id": correlation_id,
        "request": {key: chain[0]["metadata"].get(key) for key in ("method", "path", "user_agent")},
        "roots": roots,
        "count": len(chain),
        "truncated": len(chain) == READ_PAGE_LIMIT,  # the first READ_PAGE_LIMIT events only
        "started_at": start,
        "duration_ms": _millis(chain[-1]["recorded_at"] - start),
    }
