"""The event-statistics projection: events per type and source per minute (dashboard).

Async: it runs as a subscriber after commit, so counting never slows a writer.
"""

from __future__ import annotations

from django.db import connection

from .envelope import RecordedEvent
from .models import EventStat
from .projections import ALL_TYPES, ASYNC, Projection, register_projection

_COUNT_SQL = """
INSERT INTO eventstore_eventstat (minute, type, source, count) VALUES (date_trunc('minute', %s), %s, %s, 1)
ON CONFLICT (minute, type, source) DO UPDATE SET count = eventstore_eventstat.count + 1
"""


def count_event(event: RecordedEvent) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_COUNT_SQL, [event.recorded_at, event.type, event.source])


event_statistics = register_projection(
    Projection(
        name="eventstore.event_stats",
        handlers={ALL_TYPES: count_event},
        models=[EventStat],
        mode=ASYNC,
        description="Counts of events per minute, type and source.",
    )
)
