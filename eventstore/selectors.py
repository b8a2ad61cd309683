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
