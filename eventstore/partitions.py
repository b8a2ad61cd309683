"""Partitions of the log, created ahead of the positions being taken (migrations 0011 to 0014).

The log is partitioned by position range. A partition covers
`EVENTSTORE_PARTITION_TRANSACTIONS` transactions' worth of positions (a
transaction's events share one range of 2^20 positions), and
`EVENTSTORE_PARTITIONS_AHEAD` of them are kept past the next transaction's
positions. They are made well before: on every new connection of the primary
(after the positions' catch-up, which may move them) and from beat every
minute. The database function does the work under an advisory lock; the usual
call reads the newest bound from a one-row head table (migration 0012) and
finds enough partitions.

Should an append still find no range partition (beat stopped, transaction ids
taken faster than partitions are made), it lands in the DEFAULT partition and
commits as usual. The next call here settles those rows into a range
partition before making more (migration 0013 says how); until then /health/
and /metrics name them (`rows_outside_partitions`).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db import connection as default_connection

from .store.statements import POSITION_SHIFT

# A DO block, so a connection that runs the migrations before 0010 is not refused for lack of the function.
_ENSURE_SQL = """
DO $$ BEGIN
    IF to_regprocedure('eventstore_ensure_partitions(bigint, integer)') IS NOT NULL THEN
        PERFORM eventstore_ensure_partitions({span}, {ahead});
    END IF;
END $$
"""
_LIST_SQL = (
    "SELECT name, lower_bound, upper_bound FROM eventstore_partition_upper_bounds() ORDER BY upper_bound"
)


def span() -> int:
    """How many positions one partition covers."""
    return int(settings.EVENTSTORE_PARTITION_TRANSACTIONS) << POSITION_SHIFT


def ensure_ahead(connection=None) -> None:
    """Create the partitions the next `EVENTSTORE_PARTITIONS_AHEAD` spans of positions need."""
    connection = connection or default_connection
    sql = _ENSURE_SQL.format(span=span(), ahead=int(settings.EVENTSTORE_PARTITIONS_AHEAD))
    with connection.cursor() as cursor:
        cursor.execute(sql)


def partitions(connection=None) -> list[tuple[str, int | None, int]]:
    """(name, lower bound or None for the first, upper bound) of every attached partition, in order."""
    connection = connection or default_connection
    with connection.cursor() as cursor:
        cursor.execute(_LIST_SQL)
        return list(cursor.fetchall())


# The most partitions a windowed read of the log plans over in one statement (`position_windows`):
# 64 partitions and their indexes are 384 relation locks, a fraction of the default lock table's 6,400.
READ_WINDOW_PARTITIONS = 64
LOWEST_POSITION = -(1 << 63)
HIGHEST_POSITION = (1 << 63) - 1


def position_windows(
    after: int, through: int, *, most: int | None = None, found=None
) -> list[tuple[int, int]]:
    """The positions (after, through] cut at partition bounds into ranges of at most `most` partitions
    (READ_WINDOW_PARTITIONS unless given).

    Each range is (after, through) again, exclusive then inclusive, for a read
    that gives them to the planner as literals: such a statement plans over,
    and locks, its range's partitions only (and the default, for a range that
    reaches past the last partition's upper bound). A statement bounded by
    (after, through) alone plans over every partition in between. `found`:
    the partitions as `partitions()` lists them, when the caller has them.
    """
    most = most or READ_WINDOW_PARTITIONS
    found = partitions() if found is None else found
    ends = [upper - 1 for _name, _lower, upper in found]  # each partition's last position
    windows = []
    low, first = after, bisect.bisect_right(ends, after)  # the first partition above `after`
    while low < through:
        last = first + most - 1
        high = min(ends[last], through) if last < len(ends) else through
        windows.append((low, high))
        low, first = high, last + 1
    return windows


# Each database's partitions as this process last listed them (`known_partitions`).
_known: dict[str, list[tuple[str, int | None, int]]] = {}


def known_partitions(through: int, alias: str = DEFAULT_DB_ALIAS) -> list[tuple[str, int | None, int]]:
    """The attached partitions as this process last listed them, listed again when `through` lies
    at or past the newest upper bound it knows (its first call, too).

    For a read that runs often and usually near the head (`reading.read_all`):
    listing reads the catalog and deparses every bound, a cost that grows with
    the partitions, and the list changes only at its ends. Partitions are
    attached above the newest upper bound (made ahead, or the default's rows
    settled), so a list that reaches past `through` names every partition
    below it still attached; a partition archived since is only a range that
    the planner no longer finds. A stale list therefore never changes what a
    read returns, only how many partitions one of its windows may plan over.
    """
    found = _known.get(alias)
    if not found or through >= found[-1][2]:
        found = _known[alias] = partitions(connections[alias])
    return found


def read_in_windows(
    read,
    limit: int | None,
    *,
    after: int = LOWEST_POSITION,
    through: int = HIGHEST_POSITION,
    newest_first: bool = False,
    found=None,
) -> list:
    """Rows of `read(after, through, wanted)` over the positions (after, through], window by window
    (`position_windows`), oldest first unless `newest_first`, until `limit` rows (all when None).

    `read` returns at most `wanted` rows (None: no limit) of its window, in the
    walk's order, with the window's bounds in its statement as literals: so each
    statement plans over, and locks, one window's partitions, and under
    autocommit lets them go before the next. A page that the newest (or oldest)
    windows fill reads no further. `found`: as for `position_windows`.
    """
    windows = position_windows(after, through, found=found)
    rows: list = []
    for low, high in reversed(windows) if newest_first else windows:
        rows += read(low, high, None if limit is None else limit - len(rows))
        if limit is not None and len(rows) >= limit:
            break
    return rows


# Counted up to this many: enough to say how bad it is without reading a large default.
OUTSIDE_COUNT_LIMIT = 100_000


def rows_outside_partitions(connection=None) -> int:
    """Events in the DEFAULT partition (no range partition covered them yet), up to OUTSIDE_COUNT_LIMIT.

    Read from that one table by migration 0014's function: /health/ and /metrics
    ask on every call, and neither the partition list (every bound deparsed) nor
    a read of the log (planned over the partitions its bounds leave) should grow
    with the number of partitions.
    """
    connection = connection or default_connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT eventstore_default_partition_rows(%s)", [OUTSIDE_COUNT_LIMIT])
        return cursor.fetchone()[0]


def count_events(types: list[str] | None = None, connection=None) -> int:
    """Events in the log (of `types` when given), counted one partition per statement.

    One count over the log would plan and lock every partition and its indexes
    at once, in the leader and in each parallel worker: with 1,527 partitions
    that ran the server's lock table out (docs/benchmarks.md). Each statement
    here is bounded by one partition's range, as literals the planner prunes
    with; under autocommit each lets its locks go before the next.
    """
    where, params = ("type = ANY(%s)", [list(types)]) if types is not None else ("true", [])
    return sum(
        count
        for (count,) in _each_partition(
            f"SELECT count(*) FROM eventstore_event WHERE {{}} AND {where}", params, connection
        )
    )


def count_events_by_type(connection=None) -> dict[str, int]:
    """Events in the log by type, counted one partition per statement (see count_events)."""
    counts: dict[str, int] = {}
    rows = _each_partition(
        "SELECT type, count(*) FROM eventstore_event WHERE {} GROUP BY type", [], connection
    )
    for type_name, count in rows:
        counts[type_name] = counts.get(type_name, 0) + count
    return counts


def _each_partition(statement: str, params: list, connection=None) -> Iterator[tuple]:
    """The rows of `statement` run once per partition's range ({} in it), and once outside them all."""
    connection = connection or default_connection
    found = partitions(connection)
    if not found:
        return
    ranges = [
        ("position >= %s AND position < %s", [lower, upper])
        for _n, lower, upper in found
        if lower is not None
    ]
    ranges += [("position < %s", [upper]) for _n, lower, upper in found if lower is None]
    lowest, highest = found[0][1], found[-1][2]
    outside = (
        ("position >= %s", [highest])
        if lowest is None
        else ("(position >= %s OR position < %s)", [highest, lowest])
    )
    with connection.cursor() as cursor:
        for where, bounds in [*ranges, outside]:
            cursor.execute(statement.format(where), [*bounds, *params])
            yield from cursor.fetchall()


def archived_before() -> int | None:
    """Where the live log begins when its oldest partitions were archived (None: it holds them all)."""
    found = partitions()
    return found[0][1] if found else None


# The head row (migration 0012), not every partition's bound: /health/ asks this on every call.
_MARGIN_SQL = f"""
SELECT (SELECT upper_bound FROM eventstore_partition_head)
       - ((SELECT base FROM eventstore_position_base)
          + (pg_snapshot_xmax(pg_current_snapshot())::text::bigint << {POSITION_SHIFT}))
"""


def spans_ahead(connection=None) -> float:
    """How many partition spans the attached partitions reach past the next transaction's positions.

    Below 1, appends may soon find no partition (beat's job not running, or the
    cluster taking transaction ids faster than it makes partitions): /health/ says degraded.
    """
    connection = connection or default_connection
    with connection.cursor() as cursor:
        cursor.execute(_MARGIN_SQL)
        margin = cursor.fetchone()[0]
    return (margin or 0) / span()
