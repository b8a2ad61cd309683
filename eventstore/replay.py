"""Rebuilding projections from the log alone (guarantee 7), safely while serving.

Inline projection: one transaction takes an EXCLUSIVE lock on the
projection's tables (readers go on reading the old rows; writers that would
touch them wait), empties them and applies every committed event of the
projection's types in position order. Writers blocked on the lock apply their
own events after the rebuild commits, on top of the rebuilt state. No horizon
is needed: every transaction that already wrote to these tables committed
before the lock was granted, so its events are visible; one that appended but
has not reached the tables yet is invisible and applies its change itself later.

Async projection: its subscriber's checkpoints are locked instead (the
consumer waits), events are applied gap-safely up to the horizon, and the
checkpoints are set to the last applied position, so the consumer resumes
exactly after it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from django.db import connection, transaction
from django.db.models.fields import AutoFieldMixin

from . import streams
from .models import Checkpoint
from .projections import ASYNC, Projection
from .reading import follow
from .relay import subscriber_checkpoint_name

ProgressCallback = Callable[[int], None]


def rebuild_projection(
    projection: Projection, *, batch_size: int = 5000, progress: ProgressCallback | None = None
) -> int:
    """Empty and refill `projection` from the log; return how many events were applied."""
    with transaction.atomic():
        return _rebuild_in_transaction(projection, batch_size, progress)


def _rebuild_in_transaction(
    projection: Projection, batch_size: int, progress: ProgressCallback | None
) -> int:
    is_async = projection.mode == ASYNC
    if is_async:
        checkpoint_names = [
            subscriber_checkpoint_name(projection.name, p) for p in range(streams.partition_count())
        ]
        for name in checkpoint_names:
            Checkpoint.objects.get_or_create(name=name)
        list(Checkpoint.objects.select_for_update().filter(name__in=checkpoint_names))
    else:
        tables = ", ".join(connection.ops.quote_name(t) for t in projection.table_names())
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {tables} IN EXCLUSIVE MODE")
    projection.reset()
    applied, last_position = 0, 0
    for batch in follow(batch_size=batch_size, types=projection.event_types, below_horizon=is_async):
        projection.apply_batch(batch)
        applied += len(batch)
        last_position = batch[-1].position
        if progress is not None:
            progress(len(batch))
    if is_async:
        Checkpoint.objects.filter(name__in=checkpoint_names, position__lt=last_position).update(
            position=last_position
        )
    return applied


def projection_snapshot(projection: Projection) -> dict[str, list[tuple]]:
    """Every row of the projection's tables, sorted: what replay-equals-live compares.

    Surrogate auto-increment keys are left out: they count inserts, including
    rolled-back ones, so they are not part of the state events determine.
    """
    snapshot = {}
    for model in projection.models:
        fields = [
            field.attname
            for field in model._meta.concrete_fields
            if not (field.primary_key and isinstance(field, AutoFieldMixin))
        ]
        rows = model.objects.values_list(*fields)
        snapshot[model._meta.db_table] = sorted(rows, key=repr)
    return snapshot


class _DryRunRollback(Exception):
    pass


def rebuild_dry_run(projection: Projection, *, batch_size: int = 5000, progress=None) -> tuple[int, dict]:
    """Rebuild inside a transaction that is rolled back; return (events, differences per table).

    Differences are `{table: {"missing": n, "unexpected": n}}`: rows the live
    tables lack compared with a rebuild, and rows a rebuild would not produce.
    """
    result: dict = {}
    try:
        with transaction.atomic():
            before = projection_snapshot(projection)
            applied = _rebuild_in_transaction(projection, batch_size, progress)
            after = projection_snapshot(projection)
            for table in before:
                # Rows may hold JSON lists (unhashable): compare their reprs as multisets.
                live, rebuilt = Counter(map(repr, before[table])), Counter(map(repr, after[table]))
                result[table] = {
                    "missing": sum((rebuilt - live).values()),
                    "unexpected": sum((live - rebuilt).values()),
                }
            result["_applied"] = applied
            raise _DryRunRollback
    except _DryRunRollback:
        pass
    return result.pop("_applied"), result
