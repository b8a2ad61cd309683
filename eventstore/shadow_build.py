"""Building projections into a shadow schema from the log, in short transactions.

One `ShadowBuild` rebuilds a group of projections in one pass over the log:
each batch read is handed to every projection (the events of its types). The
log is read below the horizon, one batch per transaction, so the build never
holds the horizon (or anything a writer needs) for longer than one batch; the
live tables are not touched until the caller swaps. A projection built alone
that has `apply_stored_sql` is applied on the server instead: each batch of
stored events goes through its statement, in the same short transactions.
Inline projections whose statement covers some of their types
(`Projection.stored_sql_types`) are split: Python reads and applies the
other types, batch by batch, and after each batch the statements apply
their types over the same range of positions, in the same transaction.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Sequence

from django.db import connection, transaction

from . import partitions, shadow
from .archive import source as archive_source
from .envelope import RecordedEvent
from .projections import ASYNC, Projection, registered_projections
from .reading import collector_paused, follow, horizon, log_range
from .stored_sql import COLUMNS_WITH_DATA, split_build

ProgressCallback = Callable[[int], None]
# The most partitions one batch of a build is planned over (`ShadowBuild.build`): 64 partitions
# and their indexes are 384 locks (a partition and its five indexes), a fraction of the default lock table's 6,400.
WINDOW_PARTITIONS = 64
# What Projection.apply_stored_sql reads of each event (its CTE `events`).
_ENVELOPE_COLUMNS = "position, stream_id, stream_version, type, source, correlation_id, recorded_at"
EventFilter = Callable[[RecordedEvent], bool]


def build_groups(projections: Sequence[Projection]) -> list[list[Projection]]:
    """The inline projections together (one pass over the log, one swap, in registration order),
    then each async projection alone (its own checkpoints)."""
    order = list(registered_projections())
    inline = sorted(
        (p for p in projections if p.mode != ASYNC),
        key=lambda p: order.index(p.name) if p.name in order else len(order),
    )
    return ([inline] if inline else []) + [[p] for p in projections if p.mode == ASYNC]


class ShadowBuild:
    def __init__(
        self,
        projections: Sequence[Projection],
        schema: str,
        *,
        batch_size: int,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.projections = list(projections)
        self.schema = schema
        self.batch_size = batch_size
        self.progress = progress
        self.tables = [t for p in self.projections for t in p.table_names()]
        self.live_schemas: dict[str, str] = {}  # table -> the schema it is live in
        self.wanted = {
            p.name: (None if p.event_types is None else frozenset(p.event_types)) for p in self.projections
        }
        every_type = any(types is None for types in self.wanted.values())
        self.types = None if every_type else sorted(set().union(*self.wanted.values()))
        self.reads_data = any(p.reads_data for p in self.projections)
        # A projection built alone whose set-based SQL over the stored log covers every type it
        # handles (Projection.apply_stored_sql): nothing is read into Python.
        alone = self.projections[0] if len(self.projections) == 1 else None
        self.stored_sql = (
            alone.apply_stored_sql if alone is not None and _applied_by_sql_alone(alone) else None
        )
        self.stored_columns = (
            _ENVELOPE_COLUMNS if alone is None or alone.stored_sql_types is None else COLUMNS_WITH_DATA
        )
        # Inline projections applying some of their types by SQL (Projection.stored_sql_types).
        self.split = split_build(self.projections) if self.stored_sql is None else None
        self.applied = dict.fromkeys(self.wanted, 0)
        # Data keys unwrapped by earlier batches, for the later ones (see follow()).
        self.unwrapped: dict[tuple[str, bytes], bytes] = {}
        self.position = 0  # the last position read (of these projections' types)

    def create(self) -> None:
        """(Re)create the shadow tables, empty, and let projections seed them."""
        create_together([self])

    def build(self, *, until: int | None = None, stop: threading.Event | None = None) -> None:
        """Apply the log below the horizon (and up to `until`), one batch per transaction.

        Each batch reads up to the end of a window of whole partitions, a bound
        given to the planner as a literal: it opens and locks those partitions
        only. A read bounded by the horizon alone was planned over every
        partition above the build's position, once per batch (docs/benchmarks.md,
        "Partition count and locks"). The window starts at one partition and
        doubles, up to WINDOW_PARTITIONS, while it holds less than a batch (small
        or empty partitions). The partition bounds are read once; partitions made
        meanwhile lie above them, and the last read, bounded by the horizon,
        covers them. A set `stop` ends the build between two batches
        (eventstore.parallel_build: another group failed).
        """
        ends = [
            upper - 1 for _name, _lower, upper in partitions.partitions()
        ]  # each partition's last position
        window = 1
        while stop is None or not stop.is_set():
            with transaction.atomic(), shadow.writing_into(self.schema):
                found = bisect.bisect_right(ends, self.position) + window - 1
                end = ends[found] if found < len(ends) else None
                # Below the horizon, every transaction that could take a position up to `end` has ended.
                windowed = end is not None and end < horizon() and (until is None or end < until)
                read = self.read(below_horizon=True, one_batch=True, until=end if windowed else until)
                if windowed and read < self.batch_size:
                    self.position = end  # every event of the window is read
            if until is not None and self.position >= until:
                return
            if read < self.batch_size:
                if not windowed:
                    return
                window = min(2 * window, WINDOW_PARTITIONS)

    def read(
        self,
        *,
        below_horizon: bool,
        one_batch: bool = False,
        until: int | None = None,
        keep: EventFilter | None = None,
    ) -> int:
        """Apply the events after `self.position`, in the caller's transaction; return how many were read.

        `below_horizon=False` reads every event visible now: only for a caller
        that locked out the live tables' writers, or reads in one snapshot with
        the live tables it compares.
        """
        if keep is None and not _archived_after(self.position):
            if self.stored_sql is not None:
                return self._apply_stored(below_horizon=below_horizon, one_batch=one_batch, until=until)
            if self.split is not None:
                return self._read_split(below_horizon=below_horizon, one_batch=one_batch, until=until)
        return self._read_in_python(
            self.types, self.wanted, below_horizon=below_horizon, one_batch=one_batch, until=until, keep=keep
        )

    def _read_in_python(
        self,
        types: Sequence[str] | None,
        wanted: dict[str, frozenset[str] | None],
        *,
        below_horizon: bool,
        one_batch: bool,
        until: int | None,
        keep: EventFilter | None = None,
        after_batch: Callable[[int], None] | None = None,
    ) -> int:
        """Read `types` and hand each projection its `wanted` ones; once each batch is applied,
        `after_batch(p)` runs with p the position the batch was read after."""
        batches = follow(
            after=self.position,
            batch_size=self.batch_size,
            types=types,
            below_horizon=below_horizon,
            with_data=self.reads_data,
            until=until,
            limit=self.batch_size if one_batch else None,
            unwrapped=self.unwrapped,
        )
        read = 0
        try:
            while True:
                # See reading.collector_paused: batches live exactly as long as their application.
                with collector_paused():
                    batch = next(batches, None)
                    if batch is None:
                        return read
                    read += len(batch)
                    start, self.position = self.position, batch[-1].position
                    self._apply([e for e in batch if keep(e)] if keep is not None else batch, wanted)
                    del batch
                    if after_batch is not None:
                        after_batch(start)
        finally:
            # A failed batch leaves the reader suspended: close its cursor now, in the transaction.
            batches.close()

    def _apply_stored(self, *, below_horizon: bool, one_batch: bool, until: int | None) -> int:
        """What `read` does, on the server: each batch of stored events applied by the projection's SQL."""
        (projection,) = self.projections
        read = 0
        while True:
            where, params = log_range(
                after=self.position, below_horizon=below_horizon, until=until, types=self.types
            )
            with connection.cursor() as cursor:
                cursor.execute(
                    f"WITH events AS MATERIALIZED (SELECT {self.stored_columns} FROM eventstore_event "
                    f"WHERE {where} ORDER BY position LIMIT %s), applied AS ({self.stored_sql}) "
                    "SELECT count(*), max(position) FROM events",
                    [*params, self.batch_size],
                )
                count, last = cursor.fetchone()
            if count:
                read += count
                self.position = last
                self.applied[projection.name] += count
                if self.progress is not None:
                    self.progress(count)
            if one_batch or count < self.batch_size:
                return read

    def _read_split(self, *, below_horizon: bool, one_batch: bool, until: int | None) -> int:
        """What `read` does, Python reading its types and the statement applying the others (see
        eventstore.stored_sql); returns how many events Python read, which tells whether it is done."""
        split = self.split
        if below_horizon:
            # One bound for both sides: a second horizon, read later, could be higher.
            below = horizon() - 1
            until = below if until is None else min(until, below)

        def apply_stored(after: int, up_to: int | None) -> None:
            last, applied, not_read = split.apply_range(after=after, until=up_to)
            for name, count in applied.items():
                self.applied[name] += count
            if last is not None:
                self.position = max(self.position, last)
            if self.progress is not None and not_read:
                self.progress(not_read)

        read = self._read_in_python(
            split.read_types,
            split.python_types,
            below_horizon=False,  # bounded by `until`, below the horizon when asked
            one_batch=one_batch,
            until=until,
            after_batch=lambda start: apply_stored(start, self.position),
        )
        if not (one_batch and read == self.batch_size):
            # Python has read every event of its types up to `until`: the statement goes as far.
            apply_stored(self.position, until)
        return read

    def _apply(self, batch: list[RecordedEvent], wanted: dict[str, frozenset[str] | None]) -> None:
        for projection in self.projections:
            types = wanted[projection.name]
            events = batch if types is None else [e for e in batch if e.type in types]
            if events:
                projection.apply_batch(events)
                self.applied[projection.name] += len(events)
        if self.progress is not None:
            self.progress(len(batch))

    def saved_state(self) -> tuple[int, dict[str, int]]:
        return self.position, dict(self.applied)

    def applied_since(self, state: tuple[int, dict[str, int]]) -> int:
        """Events applied since `state` was saved (for the swap's log line)."""
        return max(sum(self.applied.values()) - sum(state[1].values()), 0)

    def restore(self, state: tuple[int, dict[str, int]]) -> None:
        """After a rolled-back transaction: forget what it applied."""
        self.position, self.applied = state[0], dict(state[1])


def create_together(builds: Sequence[ShadowBuild]) -> None:
    """(Re)create the shadow schema of `builds` (all the same) with every build's tables, empty,
    and let their projections seed them."""
    (schema,) = {build.schema for build in builds}
    # Resolved before the copies exist: temporary ones would be found first.
    for build in builds:
        build.live_schemas = {table: shadow.live_schema(table) for table in build.tables}
    with transaction.atomic():
        shadow.create_shadow(schema, {t: s for build in builds for t, s in build.live_schemas.items()})
        with shadow.writing_into(schema):
            for build in builds:
                for projection in build.projections:
                    if projection.on_reset is not None:
                        projection.on_reset()


def _applied_by_sql_alone(projection: Projection) -> bool:
    """Whether the projection's statement applies every type it handles."""
    if projection.apply_stored_sql is None:
        return False
    return projection.stored_sql_types is None or set(projection.stored_sql_types) == set(projection.handlers)


def _archived_after(position: int) -> bool:
    """Whether a replay from an archive still has archived events after `position` (not in the table)."""
    archive = archive_source.active()
    return archive is not None and position < archive.last_position
