"""Rebuilding projections from the log alone (guarantee 7), blue/green, while serving.

A rebuild never touches the live tables until its last moment:

1. build: a shadow schema gets an empty copy of each table (eventstore.shadow)
   and the log is applied to it below the horizon, one batch per transaction
   (eventstore.shadow_build). Readers and writers of the live tables go on
   as usual; the horizon is held for one batch at most. The shadow's
   non-unique indexes are made once their group is built (one sort each).
   The groups (inline projections that read different events, each async
   projection) are built side by side on several connections
   (eventstore.parallel_build), all before the first swap.
2. swap: one short transaction takes ACCESS EXCLUSIVE locks on the live
   tables (giving up after SWAP_LOCK_TIMEOUT_MS and trying again), applies the
   events committed since the build's last batch, and moves the shadow tables
   into the live schema in place of the live ones, which are then dropped.

Inline projection: once the locks are granted, every transaction that wrote
to the live tables has committed, so its events are visible and the swap
reads every visible event (no horizon). A transaction that appended but has
not reached the tables yet is invisible to the swap; it writes its own change,
after the swap, to the new tables (Postgres looks a waiting statement's table
up again by name once it gets the lock).

Async projection: the swap also locks its subscriber's checkpoints (the
consumer waits), reads below the horizon and sets the checkpoints to the last
applied position, so the consumer resumes exactly after it.

Killed at any point before the swap commits, a rebuild leaves the live tables
as they were; the next one drops the leftover shadow and starts again.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Sequence

from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models.fields import AutoFieldMixin

from . import delivery_ledger, parallel_build, projection_versions, shadow, streams
from .models import Checkpoint
from .projection_diff import TableDiff, check_projections
from .projections import ASYNC, Projection
from .relay import subscriber_checkpoint_name
from .shadow_build import ProgressCallback, ShadowBuild, build_groups, create_together

# Events per batch (and per build transaction): large batches mean fewer statements and
# one personal-data key load per batch (docs/benchmarks.md, "Measurements behind constants").
REBUILD_BATCH_SIZE = 20_000
# How long the swap waits for its locks before it lets go and tries again (see shadow).
SWAP_LOCK_TIMEOUT_MS = 200
SWAP_ATTEMPTS = 50
_LOCK_FAILURES = {"55P03", "40P01"}  # lock_not_available, deadlock_detected
logger = logging.getLogger(__name__)

__all__ = [
    "REBUILD_BATCH_SIZE",
    "TableDiff",
    "check_projections",
    "projection_snapshot",
    "rebuild_dry_run",
    "rebuild_projection",
    "rebuild_projections",
]


def rebuild_projection(
    projection: Projection, *, batch_size: int = REBUILD_BATCH_SIZE, progress: ProgressCallback | None = None
) -> int:
    """Rebuild `projection` beside the live one and swap it in; return how many events were applied."""
    return rebuild_projections([projection], batch_size=batch_size, progress=progress)[projection.name]


def rebuild_projections(
    projections: Sequence[Projection],
    *,
    batch_size: int = REBUILD_BATCH_SIZE,
    progress: ProgressCallback | None = None,
    jobs: int | None = None,
) -> dict[str, int]:
    """Rebuild several projections; return the events applied to each, by name.

    Every group's shadow is built first, on up to `jobs` connections at once
    (settings.REBUILD_JOBS; eventstore.parallel_build), then the groups are
    swapped in one after the other: the inline projections together, then
    each async projection with its own checkpoints. A failure before the
    first swap leaves every live table as it was; so does a view or trigger
    made on any of their live tables while the shadows were built.
    """
    groups = build_groups(projections)
    applied: dict[str, int] = {}
    with shadow.exclusive_use(shadow.REBUILD_SCHEMA):
        builds = [
            ShadowBuild(g, shadow.REBUILD_SCHEMA, batch_size=batch_size, progress=progress) for g in groups
        ]
        try:
            create_together(builds)
            deferred = shadow.drop_secondary_indexes(
                shadow.REBUILD_SCHEMA, [t for b in builds for t in b.tables]
            )
            parallel_build.build_together(
                builds,
                settings.REBUILD_JOBS if jobs is None else jobs,
                # Each group's tables as soon as they are built, while other groups still build.
                complete=functools.partial(shadow.complete, shadow.REBUILD_SCHEMA, deferred=deferred),
            )
            # A view or trigger made on a live table while the shadows were built would stop that
            # group's swap under its locks, after the groups before it had swapped: a rebuild
            # half done. Every group's tables are checked again here, so such a refusal comes
            # before the first swap; each swap still checks its own tables under the locks.
            shadow.refuse_what_a_swap_would_lose({t: s for b in builds for t, s in b.live_schemas.items()})
            for build, group in zip(builds, groups, strict=True):
                shadow.prepare_retired()
                # Catch up with what was appended meanwhile, so the swap applies only a short tail.
                build.build()
                _swap(build, is_async=group[0].mode == ASYNC)
                projection_versions.record_rebuilt(group)
                applied.update(build.applied)
        finally:
            # A failed build leaves its shadow to be dropped here (or by the next rebuild).
            shadow.drop_shadow(shadow.REBUILD_SCHEMA)
    return applied


def _swap(build: ShadowBuild, *, is_async: bool) -> None:
    for attempt in range(1, SWAP_ATTEMPTS + 1):
        state = build.saved_state()
        started = time.perf_counter()
        try:
            with transaction.atomic():
                shadow.give_up_waiting_after(SWAP_LOCK_TIMEOUT_MS)
                shadow.commit_without_waiting_for_the_flush()
                checkpoints = _lock_checkpoints(build) if is_async else []
                shadow.lock_live(build.live_schemas)
                locked = time.perf_counter()
                # Again under the locks: a view or trigger made while the build ran would be dropped too.
                shadow.refuse_what_a_swap_would_lose(build.live_schemas)
                shadow.copy_settings_changed_meanwhile(build.schema, build.live_schemas)
                with shadow.writing_into(build.schema):
                    build.read(below_horizon=is_async)
                if checkpoints:
                    Checkpoint.objects.filter(name__in=checkpoints, position__lt=build.position).update(
                        position=build.position
                    )
                    # The ledgers cover what the consumer handles after the rebuilt part.
                    delivery_ledger.restart(checkpoints)
                shadow.swap_in(build.schema, build.live_schemas)
            committed = time.perf_counter()
        except OperationalError as exc:
            build.restore(state)
            if getattr(exc.__cause__, "sqlstate", None) not in _LOCK_FAILURES or attempt == SWAP_ATTEMPTS:
                raise
            # Someone held a table: catch up meanwhile, so the next swap has less to apply.
            time.sleep(random.uniform(0.01, 0.05) * attempt)
            build.build()
            continue
        # How long the live tables' users waited on the swap: what `make bench` reads.
        logger.info(
            "rebuild swapped in %s: locks held %.1f ms (catch-up of %d event(s), renames, commit), "
            "waited %.1f ms for them, attempt %d",
            ", ".join(build.applied),
            (committed - locked) * 1000,
            build.applied_since(state),
            (locked - started) * 1000,
            attempt,
        )
        shadow.drop_retired()
        return


def _lock_checkpoints(build: ShadowBuild) -> list[str]:
    (projection,) = build.projections
    names = [subscriber_checkpoint_name(projection.name, p) for p in range(streams.partition_count())]
    for name in names:
        Checkpoint.objects.get_or_create(name=name)
    list(Checkpoint.objects.select_for_update().filter(name__in=names))
    return names


def rebuild_dry_run(
    projection: Projection, *, batch_size: int = REBUILD_BATCH_SIZE, progress: ProgressCallback | None = None
) -> tuple[int, dict[str, TableDiff]]:
    """Build `projection` into a shadow, compare it with the live tables, drop the shadow.

    Returns (events applied, differences per table). Nothing live is changed
    or locked against writers.
    """
    (result,) = check_projections([projection], batch_size=batch_size, progress=progress).values()
    return result


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
