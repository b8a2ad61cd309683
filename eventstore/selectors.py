"""Queries over the log for the API, the admin and the explorer."""

from __future__ import annotations

import uuid
from collections import defaultdict

from .envelope import RecordedEvent
from .reading import read_correlation


def causal_chain(correlation_id: uuid.UUID) -> list[dict]:
    """Every event of a correlation id in position order, each with the ids it caused."""
    events: list[RecordedEvent] = read_correlation(correlation_id)
    caused: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for event in events:
        if event.causation_id is not None:
            caused[event.causation_id].append(event.id)
    return [{**event.as_dict(), "caused": caused.get(event.id, [])} for event in events]


def subscriber_status() -> list[dict]:
    """Per subscriber: lowest partition checkpoint, events behind it, parked count.

    Partitions advance independently; counting from the lowest checkpoint
    bounds the lag from above ("at most this many behind").
    """
    from . import streams
    from .models import Checkpoint, ParkedEvent
    from .monitoring import events_behind
    from .relay import subscriber_checkpoint_name
    from .subscribers import registered_subscribers

    rows = []
    for name in sorted(registered_subscribers()):
        names = [subscriber_checkpoint_name(name, p) for p in range(streams.partition_count())]
        positions = dict(Checkpoint.objects.filter(name__in=names).values_list("name", "position"))
        lowest = min(positions.get(n, 0) for n in names)
        rows.append(
            {
                "name": name,
                "checkpoint": lowest,
                "lag": events_behind(lowest),
                "parked": ParkedEvent.objects.filter(subscriber=name, resolved_at__isnull=True).count(),
            }
        )
    return rows
