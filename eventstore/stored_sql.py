"""A rebuild split between Python and the server (Projection.stored_sql_types).

When inline projections apply some of their types with set-based SQL over the
stored log, a rebuild (eventstore.shadow_build) reads only the other types
into Python. After each batch Python applied, `SplitBuild.apply_range` runs
ONE statement over the same range of positions: a CTE `events` holds the
stored events of every type some projection applies by SQL, and each
projection's statement is one data-modifying CTE over it. Each projection
owns its tables, so the order of those CTEs does not matter; the Python part
of the range was written before, so a row a batch inserted (a post) is there
for the statement that changes it (its score).

Ranges are bounded by positions the reader had reached, so both sides apply
the same events: below the horizon nothing can still appear there, and while
a swap holds the live tables' locks no writer of these types can commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection

from .errors import UnknownEventType
from .projections import Projection
from .reading import log_range
from .registry import get_event_type

# What each event of `events` holds for a statement that names its types (stored_sql_types).
COLUMNS_WITH_DATA = "position, stream_id, stream_version, type, source, correlation_id, recorded_at, data"


@dataclass(frozen=True)
class SplitBuild:
    """How a group of projections is rebuilt: which types Python reads, which statement applies the rest."""

    python_types: dict[str, frozenset[str]]  # projection name -> the types handed to batch_apply
    sql_types: dict[str, tuple[str, ...]]  # projection name -> the types its statement applies
    statement: tuple[str, str]  # the statement before and after the range's condition

    @property
    def read_types(self) -> list[str]:
        """What the Python reader reads: every type some projection applies in Python."""
        return sorted(set().union(*self.python_types.values()))

    def apply_range(self, *, after: int, until: int | None) -> tuple[int | None, dict[str, int], int]:
        """Apply the statement to the stored events in (after, until] (until None: all visible now).

        Returns the last position applied (None if none), the events applied per
        projection, and how many of them Python did not read (for progress).
        """
        sql_type_union = sorted({t for types in self.sql_types.values() for t in types})
        where, params = log_range(after=after, below_horizon=False, until=until, types=sql_type_union)
        counts = [list(types) for types in self.sql_types.values()]
        with connection.cursor() as cursor:
            head, tail = self.statement
            cursor.execute(f"{head}{where}{tail}", [*params, self.read_types, *counts])
            last, not_read, *applied = cursor.fetchone()
        return last, dict(zip(self.sql_types, applied, strict=True)), not_read


def split_build(projections: Sequence[Projection]) -> SplitBuild | None:
    """The split of an inline group, or None when nothing is left to Python or nothing goes to SQL."""
    parts = [p for p in projections if p.stored_sql_types is not None]
    if not parts or any(p.event_types is None for p in projections):
        return None
    python_types = {
        p.name: frozenset(p.event_types) - frozenset(p.stored_sql_types or ()) for p in projections
    }
    if not any(python_types.values()):
        return None
    for projection in parts:
        _refuse_upcast_types(projection)
    applied = ",\n".join(f"applied_{i} AS ({p.apply_stored_sql})" for i, p in enumerate(parts))
    counts = ", ".join("count(*) FILTER (WHERE type = ANY(%s))" for _ in parts)
    statement = (
        f"WITH events AS MATERIALIZED (SELECT {COLUMNS_WITH_DATA} FROM eventstore_event WHERE ",
        f"),\n{applied}\nSELECT max(position), count(*) FILTER (WHERE NOT type = ANY(%s)), {counts} FROM events",
    )
    return SplitBuild(
        python_types=python_types,
        sql_types={p.name: tuple(p.stored_sql_types) for p in parts},
        statement=statement,
    )


def _refuse_upcast_types(projection: Projection) -> None:
    # The statement reads `data` as stored: an event stored at an older version would need its upcaster.
    for name in projection.stored_sql_types or ():
        try:
            upcast = get_event_type(name).version > 1
        except UnknownEventType:
            upcast = False
        if upcast:
            raise ValueError(
                f"projection {projection.name!r} applies {name} by SQL, but that type has upcasters: "
                "its statement would read old versions' data as stored"
            )
