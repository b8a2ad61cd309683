"""Read models fed by events: a name, a handler table, the tables they own, a rebuild.

An inline projection runs in the writer's transaction (`eventstore.bus` calls
`apply_inline_projections` after the append), so its tables are current the
moment the command commits. An async
projection is fed by the subscriber machinery after commit. Either kind can be
rebuilt from the log alone by `replay_events`, because every handler is a pure
function of the events it is given (plus the rows earlier events produced).

Apps write their projections with `eventstore.projection_batch`
(`batched_projection` and per-event handlers over a `ProjectionBatch`); this
module is the registry and the statements that helper sends.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import orjson
from django.db import connection
from django.db.models import FloatField, JSONField, Model

from . import prepared, tracing
from .envelope import RecordedEvent
from .subscribers import EVERY_TYPE, Subscriber, handler_table, register_subscriber

Handler = Callable[[RecordedEvent], None]
BatchHandler = Callable[[Sequence[RecordedEvent]], None]
INLINE = "inline"
ASYNC = "async"
ALL_TYPES = EVERY_TYPE


@dataclass(frozen=True)
class Projection:
    """A named read model: `handlers` maps event types (or names) to functions applying one event."""

    name: str
    handlers: Mapping[str, Handler]
    models: Sequence[type[Model]]
    mode: Literal["inline", "async"] = INLINE
    description: str = ""
    # Called after a rebuild's reset, before the first event (e.g. to seed rows).
    on_reset: Callable[[], None] | None = field(default=None)
    # Applies a list of events (position order) with set-based SQL, leaving exactly the
    # rows that applying them one by one leaves; a rebuild uses it when present.
    batch_apply: BatchHandler | None = field(default=None)
    # A data-modifying statement applying the events of a CTE named `events` (the stored
    # log's envelope columns: position, stream_id, stream_version, type, source,
    # correlation_id, recorded_at) to the projection's tables, leaving the rows that
    # `batch_apply` leaves. A rebuild applies the events stored in the table with it, on the
    # server, without reading them into Python (archived events still go to `batch_apply`).
    apply_stored_sql: str | None = field(default=None)
    # The types `apply_stored_sql` applies, when it covers only some of the handlers' types
    # (None: all of them). A rebuild of the inline projections then hands the other types to
    # `batch_apply` and runs the statement, after each batch, over the same range of
    # positions (eventstore.shadow_build). Such a statement reads `events` with two more
    # columns, `type` filtering being its own job (`events` holds the types every projection
    # of the rebuild applies by SQL): `data` as stored, so only fields that are never sealed
    # and only types stored at their current version (no upcaster); and nothing else may
    # write its tables in the same statement (each projection owns its tables).
    stored_sql_types: tuple[str, ...] | None = None
    # False when handlers read only the envelope (type, source, times...), never data or
    # metadata: a rebuild then reads the log without decoding and opening them.
    reads_data: bool = True
    # Raise it when a change of the handlers or tables changes what the log projects to: the
    # release step rebuilds the projection (replay_events --outdated) before the code serves.
    version: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "handlers", handler_table(self.handlers, f"projection {self.name!r}"))
        if self.stored_sql_types is not None:
            if self.apply_stored_sql is None or ALL_TYPES in self.handlers:
                raise ValueError(
                    f"projection {self.name!r}: stored_sql_types needs apply_stored_sql and named types"
                )
            unknown = set(self.stored_sql_types) - set(self.handlers)
            if unknown:
                raise ValueError(f"projection {self.name!r} has no handler for {', '.join(sorted(unknown))}")

    @property
    def event_types(self) -> list[str] | None:
        """The types this projection reads, or None for all of them."""
        return None if ALL_TYPES in self.handlers else sorted(self.handlers)

    def apply(self, event: RecordedEvent) -> None:
        handler = self.handlers.get(event.type) or self.handlers.get(ALL_TYPES)
        if handler is not None:
            handler(event)

    def apply_batch(self, events: Sequence[RecordedEvent]) -> None:
        """Apply `events` (in position order): in one go when the projection can, else one by one."""
        if self.batch_apply is not None:
            self.batch_apply(events)
            return
        for event in events:
            self.apply(event)

    def table_names(self) -> list[str]:
        return [model._meta.db_table for model in self.models]

    def reset(self) -> None:
        """Empty the projection's live tables (tests comparing ways of applying; a rebuild uses a shadow)."""
        tables = ", ".join(connection.ops.quote_name(t) for t in self.table_names())
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {tables}")
        if self.on_reset is not None:
            self.on_reset()


def insert_rows(
    model: type[Model], fields: Sequence[str], rows: Sequence[Sequence], suffix: str = ""
) -> None:
    """INSERT `rows` (values in the order of `fields`) in one statement, for batch handlers.

    The rows travel as one JSON array of arrays, serialised by orjson and taken
    apart by Postgres, each value cast to its column's type: far cheaper than
    building model instances for `bulk_create`, and than binary arrays, which
    psycopg packs element by element in Python. `suffix` may add e.g. an ON
    CONFLICT clause.
    """
    if not rows:
        return
    sql, float_columns = _insert_statement(model, tuple(fields), suffix)
    execute_with_arrays(sql, [json_rows(rows, float_columns)])


@functools.lru_cache(maxsize=256)
def _insert_statement(
    model: type[Model], fields: tuple[str, ...], suffix: str
) -> tuple[bytes, tuple[int, ...]]:
    """The INSERT for these fields, worked out once (column types came from Django per call, per row set)."""
    quote = connection.ops.quote_name
    columns = [quote(model._meta.get_field(name).column) for name in fields]
    values, float_columns = json_row_values(model, fields)
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM jsonb_array_elements(%s::jsonb) AS r(v) {suffix}"
    )
    return sql.encode(), float_columns


def json_row_values(model: type[Model], fields: Sequence[str]) -> tuple[list[str], tuple[int, ...]]:
    """SQL reading `fields` of a row `r.v` (a JSON array, values in the order of `fields`), cast to
    their columns' types; and the indexes of the float fields (see `json_rows`)."""
    values, float_columns = [], []
    for index, name in enumerate(fields):
        model_field = model._meta.get_field(name)
        if isinstance(model_field, JSONField):
            # Django stores None in a JSON field as SQL NULL, not as JSON null.
            values.append(f"nullif(r.v->{index}, 'null'::jsonb)")
        else:
            values.append(f"(r.v->>{index})::{model_field.db_type(connection)}")
            if isinstance(model_field, FloatField):
                float_columns.append(index)
    return values, tuple(float_columns)  # a tuple: cached callers share the value


def json_rows(rows: Sequence[Sequence], float_columns: Sequence[int] = ()) -> str:
    """`rows` as the one JSON document the statements of `json_row_values` read."""
    if float_columns:
        rows = [_spell_non_finite(row, float_columns) for row in rows]
    return orjson.dumps(rows, default=_json_default).decode()


def _spell_non_finite(row: Sequence, float_columns: Sequence[int]) -> Sequence:
    # JSON has no NaN or infinity (orjson writes null); Postgres reads them from these strings.
    if all(not isinstance(row[i], float) or math.isfinite(row[i]) for i in float_columns):
        return row
    row = list(row)
    for i in float_columns:
        if isinstance(row[i], float) and not math.isfinite(row[i]):
            row[i] = "NaN" if math.isnan(row[i]) else ("Infinity" if row[i] > 0 else "-Infinity")
    return row


def _json_default(value):
    if isinstance(value, Decimal):
        return str(value)  # its exact digits; the column's cast reads them
    raise TypeError(f"insert_rows cannot send a {type(value).__name__}")


def execute_with_arrays(sql: bytes | str, params: Sequence) -> None:
    """Run a batch handler's statement with binary server-side parameters (`%b` placeholders).

    Django's cursor binds parameters on the client: it spells every element of
    a 5,000-element array out as quoted SQL text, which costs more than the
    statement itself. Errors are still raised as Django's (e.g. IntegrityError).
    """
    prepared.execute(sql, params, prepare=None)


_projections: dict[str, Projection] = {}


def register_projection(projection: Projection) -> Projection:
    """Register a projection; an async one is also registered as a subscriber of its name."""
    existing = _projections.get(projection.name)
    if existing is not None and existing is not projection:
        raise ValueError(f"projection {projection.name!r} is registered twice")
    _projections[projection.name] = projection
    _inline_by_type.clear()
    if projection.mode == ASYNC:
        register_subscriber(
            Subscriber(
                name=projection.name,
                handlers=projection.handlers,
                description=projection.description,
                batch_handler=projection.batch_apply,
                reads_data=projection.reads_data,
            )
        )
    return projection


def get_projection(name: str) -> Projection:
    return _projections[name]


def registered_projections() -> dict[str, Projection]:
    return dict(_projections)


# Event type -> the inline projections with a handler for it, in registration order.
# Most types written per request have none or one; working that out once per type
# keeps the writer's per-event cost from growing with the number of projections.
_inline_by_type: dict[str, tuple[Projection, ...]] = {}


def _inline_projections_for(event_type: str) -> tuple[Projection, ...]:
    found = _inline_by_type.get(event_type)
    if found is None:
        found = tuple(
            p
            for p in _projections.values()
            if p.mode == INLINE and (event_type in p.handlers or ALL_TYPES in p.handlers)
        )
        _inline_by_type[event_type] = found
    return found


def apply_inline_projections(event: RecordedEvent) -> None:
    """Apply `event` to every inline projection that handles its type, in the writer's transaction."""
    projections = _inline_projections_for(event.type)
    if projections and tracing.recording():
        for projection in projections:
            with tracing.handling(f"projection {projection.name}", event):
                projection.apply(event)
        return
    for projection in projections:
        projection.apply(event)
