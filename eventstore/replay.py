"""Rebuilding projections from the log alone (guarantee 7).

A rebuild runs in one transaction: it takes an EXCLUSIVE lock on the
projection's tables (readers go on reading the old rows; writers that would
touch them wait), empties them, and applies every committed event of the
projection's types in position order. Writers blocked on the lock apply their
own events after the rebuild commits, on top of the rebuilt state, so nothing
is lost or applied twice while the platform keeps serving.

Why no horizon here: every transaction that already wrote to these tables has
committed before the lock was granted, so all their events are visible; a
transaction that appended but has not reached the tables yet is not visible,
and applies its change itself once the lock is released.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection, transaction

from .projections import Projection
from .reading import follow

ProgressCallback = Callable[[int], None]


def rebuild_projection(
    projection: Projection, *, batch_size: int = 5000, progress: ProgressCallback | None = None
) -> int:
    """Empty and refill `projection` from the log; return how many events were applied."""
    applied = 0
    with transaction.atomic():
        tables = ", ".join(connection.ops.quote_name(t) for t in projection.table_names())
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {tables} IN EXCLUSIVE MODE")
        projection.reset()
        for batch in follow(batch_size=batch_size, types=projection.event_types, below_horizon=False):
            for event in batch:
                projection.apply(event)
            applied += len(batch)
            if progress is not None:
                progress(len(batch))
    return applied
