"""One way to write a projection: per-event handlers over a `ProjectionBatch`.

A handler receives the batch and one event and says what the event does to
the rows, as it would with the ORM:

    def on_post_voted(batch, event):
        batch.add(Post, event.data["post_id"], score=event.data["new_value"] - event.data["old_value"])

The batch keeps every change in memory and writes them when the batch ends,
a few set-based statements per table whatever the number of events. Live, an
event is a batch of one (the same handlers, the same statements); a rebuild
hands the projection thousands of events at once. Because the rows are
written only at the end, the batch answers the handlers' reads from memory:

- `insert(Model, **values)` a new row (an existing key fails in the INSERT, as alone);
- `put(Model, **values)` a row that replaces the one with its key, if any (upsert);
- `update(Model, key, **fields)` sets fields: of the row in memory, else of the
  stored row (an UPDATE, which finds none when there is none);
- `add(Model, key, **deltas)` adds to counters: in memory, else `column = column + delta`
  on the stored row, atomic, so concurrent live writers stay exact;
- `delete(Model, key)`;
- `load(Model, Q)` reads stored rows into memory, for handlers that read them
  (`find`, `get`, `where`); a loaded row that changes is written back whole, so
  load only rows whose writers are serialised (e.g. events of one stream);
  `load_in(Model, field, values)` is `load(Model, Q(<field>__in=values))` in one
  statement with one array parameter, for thousands of values;
- `update_where(Model, Q, **fields)` and `delete_where(Model, Q)` run at once,
  after writing everything pending, and the batch forgets what it loaded: the
  projection's `load` runs again for the events after this one.

At the end of a batch each table gets, in this order: its deletes, its updates
and counter additions of stored rows, its upserts, its inserts. So a change
to a stored row never reaches a row inserted later in the batch (one by one,
it would not have existed yet), and applying events in batches of any size
leaves the rows of applying them one by one
(tests/integration/test_batch_apply_equivalence.py).

Keys are a model's primary key, or the fields given in `keys` (a unique
constraint, e.g. `("post_id", "voter_id")`; a tuple key then). Rows are dicts
of column attnames; loaded uuids are text, as in event data. Statements name
tables unqualified, so a blue/green rebuild's shadow schema (first on the
search path, see eventstore.shadow) receives them unchanged.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import connection
from django.db.models import JSONField, Model, Q
from django.db.models.fields import AutoFieldMixin

from . import prepared
from .envelope import RecordedEvent
from .projections import Projection, execute_with_arrays, insert_rows, json_row_values, json_rows
from .registry import EventType
from .subscribers import handler_table

Row = dict[str, Any]
BatchHandler = Callable[["ProjectionBatch", RecordedEvent], None]
Loader = Callable[["ProjectionBatch", Sequence[RecordedEvent]], None]


@dataclass(frozen=True, eq=False)  # one per model and key (see `_shape`): compared by identity
class _TableShape:
    """What the batch needs to know of a model, worked out once."""

    model: type[Model]
    key: tuple[str, ...]
    columns: tuple[str, ...]  # every concrete column but a surrogate auto-increment key
    stored_columns: tuple[str, ...]  # every concrete column: what `load` reads
    column_set: frozenset[str]
    defaults: Row  # constant defaults, in column order
    default_factories: tuple[tuple[str, Callable[[], Any]], ...]  # e.g. `list` for a JSON field
    uuid_columns: tuple[str, ...]
    key_of: Callable[[Row], Any]  # the row's key: its one key value, or a tuple of them

    def check(self, names: Iterable[str]) -> None:
        if not self.column_set.issuperset(names):
            unknown = set(names) - self.column_set
            raise TypeError(f"{self.model.__name__} has no field {', '.join(sorted(unknown))}")


@functools.lru_cache(maxsize=64)
def _shape(model: type[Model], key: tuple[str, ...] | None) -> _TableShape:
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and isinstance(f, AutoFieldMixin))]
    factories = tuple((f.attname, f.default) for f in fields if f.has_default() and callable(f.default))
    constant = {f.attname: f.get_default() for f in fields}
    return _TableShape(
        model=model,
        key=key or (model._meta.pk.attname,),
        columns=tuple(f.attname for f in fields),
        stored_columns=tuple(f.attname for f in model._meta.concrete_fields),
        column_set=frozenset(f.attname for f in model._meta.concrete_fields),
        defaults=constant,
        default_factories=factories,
        uuid_columns=tuple(f.attname for f in model._meta.concrete_fields if _holds_uuid(f)),
        key_of=operator.itemgetter(*(key or (model._meta.pk.attname,))),
    )


def _new_row(shape: _TableShape, values: Row) -> Row:
    """A row of every column but a surrogate key: `values`, and the model's defaults for the rest.

    (`insert` and `put` keep the caller's keyword arguments as the row when they
    name every column, the frequent case.)
    """
    if not shape.column_set.issuperset(values):
        shape.check(values)
    row = {**shape.defaults, **values}
    for name, factory in shape.default_factories:
        if name not in values:
            row[name] = factory()
    return row


def _holds_uuid(field) -> bool:
    target = field.target_field if field.is_relation else field
    return target.get_internal_type() == "UUIDField"


class _Table:
    """One table's rows in memory and its pending changes."""

    def __init__(self, shape: _TableShape) -> None:
        self.shape = shape
        self.rows: dict[Any, Row] = {}  # key -> row: loaded, inserted or put in this batch
        self.loaded: set = set()  # keys of `rows` read from the table
        self.inserts: dict[Any, Row] = {}
        self.upserts: dict[Any, Row] = {}  # put rows, and loaded rows that changed
        self.updates: dict[Any, Row] = {}  # fields to set on stored rows not in memory
        self.deltas: dict[Any, dict[str, int]] = {}  # counters to add to stored rows not in memory
        self.deletes: set = set()
        self.indexes: dict[str, dict[Any, dict[Any, Row]]] = {}  # field -> value -> key -> row

    def remember(self, key, row: Row) -> None:
        self.rows[key] = row
        if self.indexes:
            for field, index in self.indexes.items():
                index.setdefault(row[field], {})[key] = row

    def forget(self, key) -> Row | None:
        row = self.rows.pop(key, None)
        if row is not None and self.indexes:
            for field, index in self.indexes.items():
                index.get(row[field], {}).pop(key, None)
        return row

    def index(self, field: str) -> dict[Any, dict[Any, Row]]:
        index = self.indexes.get(field)
        if index is None:
            self.shape.check([field])
            index = self.indexes[field] = {}
            for key, row in self.rows.items():
                index.setdefault(row[field], {})[key] = row
        return index

    def write(self) -> None:
        shape, quote = self.shape, connection.ops.quote_name
        if self.deletes:
            sql, floats = _statement(shape, "delete", ())
            execute_with_arrays(sql, [json_rows(_key_rows(shape, sorted(self.deletes)), floats)])
        for fields, keys in _grouped_by_fields(self.updates).items():
            sql, floats = _statement(shape, "update", fields)
            rows = [[*_key_values(shape, key), *map(self.updates[key].__getitem__, fields)] for key in keys]
            execute_with_arrays(sql, [json_rows(rows, floats)])
        if self.deltas:
            fields = tuple(sorted({f for delta in self.deltas.values() for f in delta}))
            sql, floats = _statement(shape, "add", fields)
            zeros = (0,) * len(fields)  # a counter the row's events left alone
            rows = [
                [*_key_values(shape, key), *map(self.deltas[key].get, fields, zeros)]
                for key in sorted(self.deltas)  # one lock order for concurrent writers
            ]
            execute_with_arrays(sql, [json_rows(rows, floats)])
        for columns, values in _grouped(self.upserts, sort=True):
            updated = [c for c in columns if c not in shape.key and c in shape.columns]
            conflict = ", ".join(quote(shape.model._meta.get_field(f).column) for f in shape.key)
            assignments = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in updated)
            suffix = f"ON CONFLICT ({conflict}) " + (
                f"DO UPDATE SET {assignments}" if updated else "DO NOTHING"
            )
            insert_rows(shape.model, columns, values, suffix)
        for columns, values in _grouped(self.inserts, sort=False):
            insert_rows(shape.model, columns, values)


def _grouped(rows: Mapping[Any, Row], *, sort: bool) -> list[tuple[tuple[str, ...], list[tuple]]]:
    """`rows` as (columns, values of each row) groups, one statement each (sorted: one lock order).

    Rows the batch makes have every column but maybe a surrogate key, and loaded
    rows every column: their number of columns tells their columns apart.
    """
    ordered = [rows[key] for key in sorted(rows)] if sort else list(rows.values())
    widths = set(map(len, ordered))
    if len(widths) > 1:
        by_width = [[row for row in ordered if len(row) == width] for width in sorted(widths)]
    else:
        by_width = [ordered] if ordered else []
    groups = []
    for group in by_width:
        columns = tuple(group[0])
        values = map(operator.itemgetter(*columns), group)  # a tuple per row, unless one column
        groups.append((columns, list(values) if len(columns) > 1 else [(v,) for v in values]))
    return groups


def _grouped_by_fields(updates: Mapping[Any, Row]) -> dict[tuple[str, ...], list]:
    groups: dict[tuple[str, ...], list] = {}
    for key in sorted(updates):
        groups.setdefault(tuple(updates[key]), []).append(key)
    return groups


def _key_values(shape: _TableShape, key) -> tuple:
    return (key,) if len(shape.key) == 1 else key


def _key_rows(shape: _TableShape, keys: Iterable) -> list[tuple]:
    return [_key_values(shape, key) for key in keys]


@functools.lru_cache(maxsize=256)
def _statement(shape: _TableShape, kind: str, fields: tuple[str, ...]) -> tuple[bytes, tuple[int, ...]]:
    """DELETE, UPDATE (set `fields`) or counter UPDATE (add to `fields`) of the rows whose keys
    (then values) a JSON array of arrays lists."""
    quote, model = connection.ops.quote_name, shape.model
    values, floats = json_row_values(model, (*shape.key, *fields))
    column = {name: quote(model._meta.get_field(name).column) for name in (*shape.key, *fields)}
    match = " AND ".join(f"t.{column[name]} = {values[i]}" for i, name in enumerate(shape.key))
    source = "jsonb_array_elements(%s::jsonb) AS r(v)"
    table = f"{quote(model._meta.db_table)} AS t"
    offset = len(shape.key)
    if kind == "delete":
        sql = f"DELETE FROM {table} USING {source} WHERE {match}"
    elif kind == "update":
        sets = ", ".join(f"{column[f]} = {values[offset + i]}" for i, f in enumerate(fields))
        sql = f"UPDATE {table} SET {sets} FROM {source} WHERE {match}"
    else:
        sets = ", ".join(f"{column[f]} = t.{column[f]} + {values[offset + i]}" for i, f in enumerate(fields))
        sql = f"UPDATE {table} SET {sets} FROM {source} WHERE {match}"
    return sql.encode(), floats


_TYPE_MODIFIER = re.compile(r"\(.*\)")


@functools.lru_cache(maxsize=64)
def _load_statement(shape: _TableShape, field: str) -> tuple[bytes, tuple[str, ...]]:
    """SELECT of `shape`'s stored columns where `field` is in an array parameter; its JSON columns."""
    quote, meta = connection.ops.quote_name, shape.model._meta
    shape.check([field])
    fields = [meta.get_field(name) for name in shape.stored_columns]
    target = meta.get_field(field)
    # Django's JSON fields read as text here (it decodes them itself): decoded by load_in.
    json_columns = tuple(f.attname for f in fields if isinstance(f, JSONField))
    # The column's type without its length: a cast to varchar(n) would cut a longer value to a
    # stored one's length and match it.
    element_type = _TYPE_MODIFIER.sub("", target.db_type(connection))
    sql = (
        f"SELECT {', '.join(quote(f.column) for f in fields)} FROM {quote(meta.db_table)} "
        f"WHERE {quote(target.column)} = ANY(%s::{element_type}[])"
    )
    return sql.encode(), json_columns


def _keep_loaded(table: _Table, rows: Iterable[Row]) -> None:
    """Keep rows read from `table`'s model in memory, uuids as text as handlers see them; a row
    already in memory or deleted in the batch stays as it is."""
    shape = table.shape
    for row in rows:
        for name in shape.uuid_columns:
            if row[name] is not None:
                row[name] = str(row[name])
        key = shape.key_of(row)
        if key not in table.rows and key not in table.deletes:
            table.remember(key, row)
            table.loaded.add(key)


class ProjectionBatch:
    """The changes a batch of events makes to a projection's tables, written by `write()`."""

    def __init__(self, keys: Mapping[type[Model], Sequence[str]] | None = None) -> None:
        self._keys = {model: tuple(fields) for model, fields in (keys or {}).items()}
        self._tables: dict[type[Model], _Table] = {}  # in order of first use: the order of writing
        self.reload_wanted = False  # set by the *_where statements: memory was dropped

    def _table(self, model: type[Model]) -> _Table:
        table = self._tables.get(model)
        if table is None:
            table = self._tables[model] = _Table(_shape(model, self._keys.get(model)))
        return table

    # Reading

    def load(self, model: type[Model], query: Q) -> None:
        """Read the stored rows matching `query` into memory (rows already in memory stay as they are)."""
        table = self._table(model)
        _keep_loaded(table, model.objects.filter(query).values(*table.shape.stored_columns))

    def load_in(self, model: type[Model], field: str, values: Iterable) -> None:
        """`load(model, Q(<field>__in=values))`, the values sent as one array parameter.

        For a rebuild's batches, which name thousands of values: the ORM spells each
        one into the statement's text, which costs the client about twice the CPU of
        the whole load this way (bench/analysis.md, "The votes on a second
        connection, and loads by one array"). The rows are the ones `load` reads, as
        `load` gives them (uuids as text, JSON decoded).
        """
        values = list(values)
        if not values:
            return
        table = self._table(model)
        columns = table.shape.stored_columns
        sql, json_columns = _load_statement(table.shape, field)
        rows = [
            dict(zip(columns, stored, strict=True))
            for stored in prepared.fetchall(sql, [values], prepare=None)
        ]
        for row in rows:
            for name in json_columns:
                if type(row[name]) is str:
                    row[name] = orjson.loads(row[name])
        _keep_loaded(table, rows)

    def find(self, model: type[Model], key) -> Row | None:
        """The row with `key` in memory (loaded, inserted or put), or None."""
        table = self._tables.get(model)
        return None if table is None else table.rows.get(key)

    def get(self, model: type[Model], key) -> Row:
        row = self.find(model, key)
        if row is None:
            raise model.DoesNotExist(f"no {model.__name__} {key}")
        return row

    def where(self, model: type[Model], field: str, value) -> list[Row]:
        """The rows in memory whose `field` equals `value` (an index kept from the first call on)."""
        return list(self._table(model).index(field).get(value, {}).values())

    # Changing

    def insert(self, model: type[Model], **values) -> Row:
        table = self._tables.get(model) or self._table(model)
        shape = table.shape
        row = values if values.keys() == shape.defaults.keys() else _new_row(shape, values)
        key = shape.key_of(row)
        if key in table.rows:
            if key in table.inserts or key in table.upserts:
                self.write()  # the INSERT of the duplicate fails then, as it would alone
                table = self._table(model)
            else:
                table.forget(key)  # loaded: the INSERT fails, as it would alone
        table.inserts[key] = row
        table.rows[key] = row
        if table.indexes:
            table.remember(key, row)
        return row

    def put(self, model: type[Model], **values) -> Row:
        table = self._tables.get(model) or self._table(model)
        shape = table.shape
        row = values if values.keys() == shape.defaults.keys() else _new_row(shape, values)
        key = shape.key_of(row)
        if key in table.rows:
            table.forget(key)
            table.inserts.pop(key, None)  # inserted and replaced in this batch: the upsert inserts it
        table.upserts[key] = row
        table.rows[key] = row
        if table.indexes:
            table.remember(key, row)
        return row

    def update(self, model: type[Model], key, **fields) -> Row | None:
        """Set `fields` of the row with `key`; return it when it is in memory."""
        table = self._table(model)
        table.shape.check(fields)
        row = table.rows.get(key)
        if row is None:
            table.updates.setdefault(key, {}).update(fields)
            return None
        if table.indexes and not fields.keys().isdisjoint(table.indexes):
            table.forget(key)
            row.update(fields)
            table.remember(key, row)
        else:
            row.update(fields)
        if key in table.loaded:
            table.upserts[key] = row
        return row

    def add(self, model: type[Model], key, **deltas: int) -> None:
        """Add `deltas` to counters of the row with `key`."""
        table = self._tables.get(model) or self._table(model)
        row = table.rows.get(key)
        if row is None:  # an unknown field fails when the statement is made
            pending = table.deltas.get(key)
            if pending is None:
                table.deltas[key] = deltas  # the caller's fresh keyword arguments
                return
            for name, delta in deltas.items():
                pending[name] = pending.get(name, 0) + delta
            return
        for name, delta in deltas.items():
            row[name] += delta
        if key in table.loaded:
            table.upserts[key] = row

    def delete(self, model: type[Model], key) -> None:
        table = self._table(model)
        table.forget(key)
        table.updates.pop(key, None)
        table.deltas.pop(key, None)
        table.upserts.pop(key, None)
        if table.inserts.pop(key, None) is None:
            table.deletes.add(key)
        table.loaded.discard(key)

    def update_where(self, model: type[Model], query: Q, **fields) -> None:
        """Now: write what is pending, then UPDATE every stored row matching `query`."""
        self.write()
        model.objects.filter(query).update(**fields)
        self.reload_wanted = True

    def delete_where(self, model: type[Model], query: Q) -> None:
        """Now: write what is pending, then DELETE every stored row matching `query`."""
        self.write()
        model.objects.filter(query).delete()
        self.reload_wanted = True

    def write(self) -> None:
        """Write every pending change, table by table in order of first use; memory is emptied."""
        tables, self._tables = self._tables, {}
        for table in tables.values():
            table.write()


def batched_projection(
    *,
    name: str,
    handlers: Mapping[EventType | str, BatchHandler],
    models: Sequence[type[Model]],
    keys: Mapping[type[Model], Sequence[str]] | None = None,
    load: Loader | None = None,
    **options,
) -> Projection:
    """A `Projection` whose handlers write through a `ProjectionBatch`.

    `load(batch, events)`, if given, reads the stored rows the handlers of
    `events` will read. Live, each event is a batch of one; `batch_apply`
    (a rebuild) hands it any number. `options` go to `Projection`.
    """
    table = handler_table(handlers, f"projection {name!r}")

    def apply_events(events: Sequence[RecordedEvent]) -> None:
        batch = ProjectionBatch(keys)
        if load is not None:
            load(batch, events)
        for index, event in enumerate(events):
            handler = table.get(event.type)
            if handler is None:
                continue
            handler(batch, event)
            if batch.reload_wanted:
                batch.reload_wanted = False
                if load is not None:
                    load(batch, events[index + 1 :])
        batch.write()

    def apply_one(event: RecordedEvent) -> None:
        apply_events((event,))

    return Projection(
        name=name,
        handlers=dict.fromkeys(table, apply_one),
        models=models,
        batch_apply=apply_events,
        **options,
    )
