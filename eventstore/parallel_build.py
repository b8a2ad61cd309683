"""Building the inline projections' shadow on several connections at once.

Each projection owns its tables (eventstore.projections), so projections can
be built by different threads, each on its own database connection and in its
own short transactions, into the one shadow schema. Client and server then
work at the same time: while one thread's Postgres backend writes a batch,
another thread decodes and applies a batch of its own.

Which projections go together (`independent_parts`): those that read many of
the same events in Python share one read of them, so they stay in one part.
A type that only few events of the log have (an account's erasure) is read
by each part that needs it, and types applied by a projection's statement on
the server (`Projection.stored_sql_types`) are read there by each part's
statement: neither ties projections together. The parts are then balanced by
the events each reads, as the event statistics count them.

Every part builds up to one bound read before they start (below the horizon
then, so each part sees every event up to it). Afterwards the group as a
whole stands at that bound: its catch-up and its swap go on from there on one
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
from .projections import Projection
from .reading import horizon
from .shadow_build import ShadowBuild

logger = logging.getLogger(__name__)
# A type read in Python by several projections ties them into one part when it has at
# least this share of the events they read: below it, reading it twice costs less than
# building the projections one after the other.
SHARED_READ_MIN_SHARE = 0.01
# An event applied by a statement on the server costs a part about a quarter of one read,
# decoded and applied in Python (docs/benchmarks.md, "Rebuild speed").
STORED_SQL_EVENT_WEIGHT = 0.25


def independent_parts(
    projections: Sequence[Projection], jobs: int, counts: Mapping[str, int] | None = None
) -> list[list[Projection]]:
    """At most `jobs` parts of `projections`, to be built side by side.

    `counts` are the log's events per type. Without them (no statistics yet)
    every shared type ties, and each type weighs one.
    """
    if jobs < 2 or any(p.event_types is None for p in projections):
        return [list(projections)]
    read = {p.name: _python_types(p) for p in projections}
    total = sum(counts.get(t, 0) for t in set().union(*read.values())) if counts else 0

    def ties(a: Projection, b: Projection) -> bool:
        shared = read[a.name] & read[b.name]
        if not counts or not total:
            return bool(shared)
        return any(counts.get(t, 0) >= SHARED_READ_MIN_SHARE * total for t in shared)

    components: list[list[Projection]] = []
    for projection in projections:
        joined = [c for c in components if any(ties(projection, p) for p in c)]
        components = [c for c in components if c not in joined] + [
            [p for c in joined for p in c] + [projection]
        ]
    if len(components) < 2:
        return [list(projections)]

    def weight(component: list[Projection]) -> float:
        python = set().union(*(read[p.name] for p in component))
        stored = [t for p in component for t in p.stored_sql_types or ()]
        if not counts:
            return len(python) + STORED_SQL_EVENT_WEIGHT * len(stored)
        return sum(counts.get(t, 0) for t in python) + STORED_SQL_EVENT_WEIGHT * sum(
            counts.get(t, 0) for t in stored
        )

    parts: list[list[Projection]] = [[] for _ in range(min(jobs, len(components)))]
    loads = [0.0] * len(parts)
    for component in sorted(components, key=weight, reverse=True):
        lightest = loads.index(min(loads))
        parts[lightest] += component
        loads[lightest] += weight(component)
    order = {p.name: i for i, p in enumerate(projections)}
    return [sorted(part, key=lambda p: order[p.name]) for part in parts]


def _python_types(projection: Projection) -> frozenset[str]:
    return frozenset(projection.event_types or ()) - frozenset(projection.stored_sql_types or ())


def logged_counts(types: Sequence[str]) -> dict[str, int]:
    """Events per type as the event statistics count them (an async projection: close enough to weigh by)."""
    rows = EventStat.objects.filter(type__in=types).values_list("type").annotate(total=Sum("count"))
    return dict(rows)


def planned_parts(projections: Sequence[Projection], jobs: int) -> list[list[Projection]]:
    """The parts a rebuild of these inline projections builds side by side (one: on one connection).

    Inside a transaction (a test's, the dry run's) other connections would not
    see what it wrote, and a replay from an archive reads its files in one
    order: such builds run on this connection alone.
    """
    if jobs < 2 or connection.in_atomic_block or archive_source.active() is not None:
        return [list(projections)]
    types = {t for p in projections for t in p.event_types or ()}
    return independent_parts(projections, jobs, logged_counts(sorted(types)))


def build_in_parallel(build: ShadowBuild, jobs: int, complete: Callable[[list[str]], None]) -> None:
    """What `build.build()` does, its projections split over up to `jobs` threads (`planned_parts`);
    `complete(tables)` runs once those tables are built, in the thread that built them."""
    parts = planned_parts(build.projections, jobs)
    if len(parts) < 2:
        build.build()
        complete(build.tables)
        return
    until = horizon() - 1
    logger.info(
        "rebuild: building %s side by side, up to position %d",
        " | ".join(", ".join(p.name for p in part) for part in parts),
        until,
    )
    progress = None
    if build.progress is not None:
        reported = threading.Lock()

        def progress(count: int) -> None:
            with reported:
                build.progress(count)

    builds = [
        ShadowBuild(part, build.schema, batch_size=build.batch_size, progress=progress) for part in parts
    ]
    failures: list[BaseException] = []
    stop = threading.Event()

    def run(part: ShadowBuild) -> None:
        try:
            part.position = build.position
            part.build(until=until, stop=stop)
            if not stop.is_set():
                complete(part.tables)
        except BaseException as exc:  # raised in the caller's thread below
            failures.append(exc)
            stop.set()
        finally:
            connection.close()  # this thread's own connection

    threads = [
        threading.Thread(target=run, args=(part,), name=f"rebuild-{i}") for i, part in enumerate(builds)
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:  # interrupted (Ctrl-C): the parts stop before the shadow is dropped
        stop.set()
        for thread in threads:
            thread.join()
        raise
    if failures:
        raise failures[0]
    for part in builds:
        for name, count in part.applied.items():
            build.applied[name] += count
    build.position = max(build.position, until)
