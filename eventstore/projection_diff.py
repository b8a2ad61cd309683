"""Comparing live projections with a rebuild from the log, changing and locking nothing.

The projections are built into temporary tables of the session
(eventstore.shadow.CHECK_SCHEMA; eventstore.shadow_build, below the horizon,
in short transactions): the serving role may run it, and a killed check
leaves nothing behind. The comparison then runs in ONE
repeatable-read snapshot: it applies the events the build has not read yet
and diffs shadow and live tables. In one snapshot, the live rows and the
events are consistent (a writer commits its events and its inline rows
together), so writers running meanwhile cause no false difference; they are
never blocked (reads take no lock a writer waits for).

An async projection is compared at its subscriber's checkpoints, read in the
same snapshot: the shadow gets exactly the events each partition's consumer
had applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Model
from django.db.models.fields import AutoFieldMixin

from . import shadow, streams
from .models import Checkpoint
from .projections import ASYNC, Projection
from .relay import subscriber_checkpoint_name
from .shadow_build import ProgressCallback, ShadowBuild, build_groups

EXAMPLES = 3  # rows shown per kind of difference


@dataclass
class TableDiff:
    """Rows of one table: only in the live table, only in the rebuild, or in both with other values."""

    only_live: int = 0
    only_rebuilt: int = 0
    differing: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        return not (self.only_live or self.only_rebuilt or self.differing)


def check_projections(
    projections: Sequence[Projection], *, batch_size: int, progress: ProgressCallback | None = None
) -> dict[str, tuple[int, dict[str, TableDiff]]]:
    """Per projection: (events applied to its shadow, differences per table); the shadow is dropped."""
    groups = build_groups(projections)
    results = {}
    for group in groups:
        build = ShadowBuild(group, shadow.CHECK_SCHEMA, batch_size=batch_size, progress=progress)
        try:
            build.create()
            differences = _compare_async(build) if group[0].mode == ASYNC else _compare_inline(build)
        finally:
            shadow.drop_shadow(shadow.CHECK_SCHEMA, build.tables)
        for projection in group:
            tables = {model._meta.db_table: differences[model._meta.db_table] for model in projection.models}
            results[projection.name] = (build.applied[projection.name], tables)
    return {p.name: results[p.name] for p in projections}


def _compare_inline(build: ShadowBuild) -> dict[str, TableDiff]:
    build.build()
    with _one_snapshot():
        with shadow.writing_into(build.schema):
            build.read(below_horizon=False)
        return _diff_all(build)


def _compare_async(build: ShadowBuild) -> dict[str, TableDiff]:
    (projection,) = build.projections
    names = [subscriber_checkpoint_name(projection.name, p) for p in range(streams.partition_count())]
    # Checkpoints only move on: the build may go as far as the lowest one now.
    start = dict(Checkpoint.objects.filter(name__in=names).values_list("name", "position"))
    build.build(until=min(start.get(name, 0) for name in names))
    with _one_snapshot():
        reached = dict(Checkpoint.objects.filter(name__in=names).values_list("name", "position"))
        by_partition = [reached.get(name, 0) for name in names]
        with shadow.writing_into(build.schema):
            build.read(
                below_horizon=False,
                until=max(by_partition),
                keep=lambda e: e.position <= by_partition[streams.partition_of(e.stream_id)],
            )
        return _diff_all(build)


class _one_snapshot:
    """A repeatable-read transaction (or, inside a caller's transaction, that transaction)."""

    def __enter__(self):
        self.atomic = transaction.atomic()
        outermost = not connection.in_atomic_block
        self.atomic.__enter__()
        if outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    def __exit__(self, *exc_info):
        return self.atomic.__exit__(*exc_info)


def _diff_all(build: ShadowBuild) -> dict[str, TableDiff]:
    return {
        model._meta.db_table: diff_table(model, build.schema, build.live_schemas[model._meta.db_table])
        for p in build.projections
        for model in p.models
    }


def _compared_columns(model: type[Model]) -> list[str]:
    # Surrogate auto-increment keys count inserts (rolled-back ones too): not state.
    return [
        f.column for f in model._meta.concrete_fields if not (f.primary_key and isinstance(f, AutoFieldMixin))
    ]


def _key_columns(model: type[Model]) -> list[str] | None:
    """The columns that identify a row as events see it: a natural primary key, else a unique set."""
    pk = model._meta.pk
    if not isinstance(pk, AutoFieldMixin):
        return [pk.column]
    for f in model._meta.concrete_fields:
        if f.unique and not f.primary_key:
            return [f.column]
    for constraint in model._meta.total_unique_constraints:
        if constraint.fields:
            return [model._meta.get_field(name).column for name in constraint.fields]
    return None


def diff_table(model: type[Model], schema: str, live_schema: str) -> TableDiff:
    """Compare the live table of `model` (in `live_schema`) with its copy in `schema`."""
    table = model._meta.db_table
    live, rebuilt = shadow.qualified(live_schema, table), shadow.qualified(schema, table)
    quote = shadow.quote
    columns = _compared_columns(model)
    keys = _key_columns(model) or columns
    on = " AND ".join(f"l.{quote(k)} = r.{quote(k)}" for k in keys)
    first = quote(keys[0])
    row_l = ", ".join(f"l.{quote(c)}" for c in columns)
    row_r = ", ".join(f"r.{quote(c)}" for c in columns)
    key_text = " || ', ' || ".join(f"'{k}=' || coalesce(l.{quote(k)}, r.{quote(k)})::text" for k in keys)
    sql = f"""
        SELECT kind, count(*), (array_agg(example ORDER BY example))[1:{EXAMPLES}] FROM (
            SELECT CASE WHEN r.{first} IS NULL THEN 'only_live'
                        WHEN l.{first} IS NULL THEN 'only_rebuilt' ELSE 'differing' END AS kind,
                   {key_text} AS example
            FROM {live} l FULL JOIN {rebuilt} r ON {on}
            WHERE l.{first} IS NULL OR r.{first} IS NULL OR ROW({row_l}) IS DISTINCT FROM ROW({row_r})
        ) d GROUP BY kind
    """
    diff = TableDiff()
    with connection.cursor() as cursor:
        cursor.execute(sql)
        for kind, count, examples in cursor.fetchall():
            setattr(diff, kind, count)
            diff.examples[kind] = list(examples)
    return diff
