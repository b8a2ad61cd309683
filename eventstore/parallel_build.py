"""Building a rebuild's shadow on several connections at once.

A rebuild builds every group of projections into one shadow schema, and only
then swaps them in, one after the other (eventstore.replay). Each projection
owns its tables, so the building can be shared out (`plan`): the inline
projections in the sets that can be built apart, and each async projection,
are groups that up to `jobs` threads take in turn, each thread on its own
database connection and in its own short transactions. Client and server then
work at the same time: while one thread's backend writes a batch, another
thread decodes and applies a batch of its own.

Which inline projections go together: those that read many of the same events
in Python share one read of them. A type that only few events of the log have
(an account's erasure) is read by each group that needs it, and types applied
by a projection's statement on the server (`Projection.stored_sql_types`) are
read there by each group's statement: neither ties projections together. The
threads take the heaviest groups first, by the events each reads, as the
event statistics count them.

Everything is built up to one bound read before the threads start (below the
horizon then, so each sees every event up to it). Afterwards every group
stands at that bound: its catch-up and its swap go on from there on one
connection, as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence

from django.db import connection
from django.db.models import Sum

from .archive import source as archive_source
from .models import EventStat
from .projections import ASYNC, Projection
from .reading import horizon
from .shadow_build import ShadowBuild, build_groups

logger = logging.getLogger(__name__)
# A type read in Python by several projections ties them into one group when it has at
# least this share of the events they read: below it, reading it twice costs less than
# building the projections one after the other.
SHARED_READ_MIN_SHARE = 0.01
# An event applied by a statement on the server costs about a quarter of one read,
# decoded and applied in Python (bench/analysis.md, "Groups built on several connections").
STORED_SQL_EVENT_WEIGHT = 0.25

Counts = Mapping[str, int]


def plan(
    projections: Sequence[Projection], jobs: int, counts: Counts | None = None
) -> list[list[Projection]]:
    """The groups a rebuild builds, each in one pass over the log; on several connections, heaviest first.

    On one connection (`jobs` 1, or not `side_by_side`): the inline projections
    together, then each async one (`build_groups`). Otherwise the inline ones
    in the sets that can be built apart, and the async ones, each its own group,
    which up to `jobs` connections take in turn. `counts` are the log's events
    per type (default: the event statistics'); without any (no statistics
    yet) every shared type ties, and each type weighs one.
    """
    groups = build_groups(projections)
    if jobs < 2 or not side_by_side():
        return groups
    counts = logged_counts() if counts is None else counts
    units: list[list[Projection]] = []
    for group in groups:
        units += _independent(group, counts) if group[0].mode != ASYNC else [group]
    order = {p.name: i for i, p in enumerate(projections)}
    units = [sorted(unit, key=lambda p: order[p.name]) for unit in units]
    return sorted(units, key=lambda unit: _weight(unit, counts), reverse=True)


def _independent(projections: Sequence[Projection], counts: Counts) -> list[list[Projection]]:
    """The inline `projections` in sets that can be built apart: those reading many of the same
    events in Python stay together."""
    if any(p.event_types is None for p in projections):
        return [list(projections)]
    read = {p.name: _python_types(p) for p in projections}
    total = sum(counts.get(t, 0) for t in set().union(*read.values())) if counts else 0

    def ties(a: Projection, b: Projection) -> bool:
        shared = read[a.name] & read[b.name]
        if not total:
            return bool(shared)
        return any(counts.get(t, 0) >= SHARED_READ_MIN_SHARE * total for t in shared)

    sets: list[list[Projection]] = []
    for projection in projections:
        joined = [c for c in sets if any(ties(projection, p) for p in c)]
        sets = [c for c in sets if c not in joined] + [[p for c in joined for p in c] + [projection]]
    return sets


def _python_types(projection: Projection) -> frozenset[str]:
    return frozenset(projection.event_types or ()) - frozenset(projection.stored_sql_types or ())


def _weight(projections: Sequence[Projection], counts: Counts | None) -> float:
    """About what building `projections` together costs: their events read in Python, and a quarter of
    those their statements apply (all of a projection's, when its statement covers every type)."""
    every = sum(counts.values()) if counts else 1

    def events(types) -> float:
        if types is None:
            return every
        return sum(counts.get(t, 0) for t in types) if counts else len(types)

    python, stored = set(), 0.0
    for projection in projections:
        if projection.apply_stored_sql is not None and projection.stored_sql_types is None:
            stored += events(projection.event_types)
        else:
            python |= _python_types(projection)
            stored += events(projection.stored_sql_types or ())
    return events(python) + STORED_SQL_EVENT_WEIGHT * stored


def logged_counts() -> dict[str, int]:
    """Events per type as the event statistics count them (an async projection: close enough to weigh by)."""
    return dict(EventStat.objects.values_list("type").annotate(total=Sum("count")))


def side_by_side() -> bool:
    """Whether builds may go to other connections: inside a transaction (a test's, the dry run's)
    they would not see what it wrote, and a replay from an archive reads its files in one order."""
    return not connection.in_atomic_block and archive_source.active() is None


def build_together(builds: Sequence[ShadowBuild], jobs: int, complete: Callable[[list[str]], None]) -> None:
    """What `build.build()` does for each of `builds` (one per group, as `build_groups` makes them),
    the groups of `plan` taken in turn by up to `jobs` connections; `complete(tables)` runs once
    those tables are built, on the connection that built them."""
    units = plan([p for build in builds for p in build.projections], jobs)
    if jobs < 2 or not side_by_side() or len(units) < 2:
        for build in builds:
            build.build()
            complete(build.tables)
        return
    owner = {p.name: build for build in builds for p in build.projections}
    (schema,) = {build.schema for build in builds}
    reported = threading.Lock()
    progress = builds[0].progress
    pieces = [
        ShadowBuild(
            unit, schema, batch_size=builds[0].batch_size, progress=progress and _locked(progress, reported)
        )
        for unit in units
    ]
    for piece in pieces:
        piece.position = owner[piece.projections[0].name].position
    until = horizon() - 1
    logger.info(
        "rebuild: %d groups on %d connections, up to position %d: %s",
        len(pieces),
        min(jobs, len(pieces)),
        until,
        " | ".join(", ".join(p.name for p in unit) for unit in units),
    )
    _run(pieces, min(jobs, len(pieces)), until, complete)
    for piece in pieces:
        for name, count in piece.applied.items():
            owner[name].applied[name] += count
    for build in builds:
        build.position = max(build.position, until)


def _run(pieces: list[ShadowBuild], threads: int, until: int, complete: Callable[[list[str]], None]) -> None:
    """`threads` threads, each taking the next of `pieces` until none is left and building it up to
    `until`; the first failure stops the others between two batches and is raised here."""
    failures: list[BaseException] = []
    stop = threading.Event()
    waiting = iter(pieces[threads:])
    taking = threading.Lock()

    def run(piece: ShadowBuild | None) -> None:
        try:
            while piece is not None and not stop.is_set():
                piece.build(until=until, stop=stop)
                if not stop.is_set():
                    complete(piece.tables)
                with taking:
                    piece = next(waiting, None)
        except BaseException as exc:  # raised in the caller's thread below
            failures.append(exc)
            stop.set()
        finally:
            connection.close()  # this thread's own connection

    # Each thread starts with one of the heaviest pieces, then takes the next left.
    running = [threading.Thread(target=run, args=(pieces[i],), name=f"rebuild-{i}") for i in range(threads)]
    for thread in running:
        thread.start()
    try:
        for thread in running:
            thread.join()
    except BaseException:  # interrupted (Ctrl-C): the threads stop before the shadow is dropped
        stop.set()
        for thread in running:
            thread.join()
        raise
    if failures:
        raise failures[0]


def _locked(progress: Callable[[int], None], lock: threading.Lock) -> Callable[[int], None]:
    def report(count: int) -> None:
        with lock:
            progress(count)

    return report
