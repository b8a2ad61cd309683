"""The event-statistics projection: events per type and source per minute (dashboard).

Async: it runs as a subscriber after commit, so counting never slows a writer.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from .envelope import RecordedEvent
from .models import EventStat
from .projections import ALL_TYPES, ASYNC, Projection, register_projection

# Counts are summed per key in SQL and added atomically, so concurrent consumers of
# different partitions never lose one; keys are written in one order (no deadlock).
_COUNT_SQL = """
INSERT INTO eventstore_eventstat (minute, type, source, count)
SELECT date_trunc('minute', e.recorded_at), e.type, e.source, count(*)
FROM unnest(%s::timestamptz[], %s::text[], %s::text[]) AS e(recorded_at, type, source)
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
ON CONFLICT (minute, type, source) DO UPDATE SET count = eventstore_eventstat.count + excluded.count
"""


def count_events(events: Sequence[RecordedEvent]) -> None:
    """Add a batch of events to the counts: one statement, whatever the batch size."""
    if not events:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _COUNT_SQL,
            [[e.recorded_at for e in events], [e.type for e in events], [e.source for e in events]],
        )


def count_event(event: RecordedEvent) -> None:
    count_events([event])


event_statistics = register_projection(
    Projection(
        name="eventstore.event_stats",
        handlers={ALL_TYPES: count_event},
        models=[EventStat],
        mode=ASYNC,
        batch_apply=count_events,
        description="Counts of events per minute, type and source.",
    )
)
