"""The event-statistics projection: events per type and source per minute (dashboard).

Async: it runs as a subscriber after commit, so counting never slows a writer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from .envelope import RecordedEvent
from .models import EventStat
from .projections import ALL_TYPES, ASYNC, Projection, execute_with_arrays, register_projection

# Counts are summed per key and added atomically, so concurrent consumers of different
# partitions never lose one; keys are written in one order (no deadlock). Python sums
# per second-less time first (fewer values to send); date_trunc stays the one definition
# of the minute (in the session's time zone).
_COUNT_SQL = """
INSERT INTO eventstore_eventstat (minute, type, source, count)
SELECT date_trunc('minute', e.at), e.type, e.source, sum(e.count)
FROM unnest(%b::timestamptz[], %b::text[], %b::text[], %b::integer[]) AS e(at, type, source, count)
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
ON CONFLICT (minute, type, source) DO UPDATE SET count = eventstore_eventstat.count + excluded.count
"""

# The same counts for a rebuild, taken where the events are stored (Projection.apply_stored_sql):
# the log's envelopes are not read into Python (docs/benchmarks.md, "Rebuild speed").
_COUNT_STORED_SQL = """
INSERT INTO eventstore_eventstat (minute, type, source, count)
SELECT date_trunc('minute', e.recorded_at), e.type, e.source, count(*)
FROM events AS e
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
ON CONFLICT (minute, type, source) DO UPDATE SET count = eventstore_eventstat.count + excluded.count
"""


def count_events(events: Sequence[RecordedEvent]) -> None:
    """Add a batch of events to the counts: one statement, whatever the batch size."""
    counts = Counter((e.recorded_at.replace(second=0, microsecond=0), e.type, e.source) for e in events)
    if counts:
        at, types, sources = zip(*counts, strict=True)
        execute_with_arrays(_COUNT_SQL, [list(at), list(types), list(sources), list(counts.values())])


def count_event(event: RecordedEvent) -> None:
    count_events([event])


event_statistics = register_projection(
    Projection(
        name="eventstore.event_stats",
        handlers={ALL_TYPES: count_event},
        models=[EventStat],
        mode=ASYNC,
        batch_apply=count_events,
        apply_stored_sql=_COUNT_STORED_SQL,
        reads_data=False,
        description="Counts of events per minute, type and source.",
    )
)
