"""(24.6) Publishing as deployed: 4 clients with the stream runner, a Celery worker and beat beside them.

Each repetition runs the 4 publishing processes twice, back to back: alone
(nothing relays; each commit's coalesced wake-up queues a Celery task that no
worker takes), then with `run_event_streams`, a Celery worker and beat
started as Procfile.prod starts them, relaying and handling every event on
the same 2 cores. The ratio of the two rates is the target.

Where the CPU goes, per process group, in CPU µs per event (= ms per 1,000 events)
published (bench/cpu.py): the clients over their timed window; everything
else from the window's start until the runner has handled every event
published in it (so a backlog left at the window's end still counts).
Redis is the shared server: its figure includes whatever else used it.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from . import cpu, services
from .workers import WorkerGroup

CLIENTS = 4
CAUGHT_UP_TIMEOUT_SECONDS = 60
# A subscriber with a handler for every type: its checkpoints say when every event was handled.
EVERY_EVENT_SUBSCRIBER = "eventstore.event_stats"
APPEND = "bench.platform_writes:append_one_per_transaction"


def backend_pid() -> int:
    """This worker process's Postgres backend (connected now, kept for its jobs)."""
    from django.db import connection

    connection.ensure_connection()
    return connection.connection.info.backend_pid


def run(collector, *, reps: int, seconds: float, results_dir: Path) -> None:
    from django.db import connection

    from eventstore.redis import get_redis

    redis_pid = cpu.redis_server_pid(get_redis())
    with WorkerGroup(CLIENTS, django=True) as clients:
        client_backends = set(clients.run(f"{__name__}:backend_pid", [{} for _ in range(CLIENTS)]))
        for _ in range(reps):
            services.catch_up_everything()
            alone = _timed(clients, seconds, redis_pid=redis_pid)
            _add(collector, "deployed_alone", "alone", alone, client_backends)
            services.catch_up_everything()
            with _deployed(results_dir) as processes:
                deployed = _timed(clients, seconds, redis_pid=redis_pid, processes=processes)
            _add(collector, "deployed", "as deployed", deployed, client_backends)
    connection.close()


class _Window:
    """Readings before and after one timed run (and, as deployed, until everything was handled)."""

    def __init__(self) -> None:
        self.rate = 0.0
        self.events = 0
        self.before: dict[str, cpu.Reading] = {}
        self.after: dict[str, cpu.Reading] = {}
        self.lag_at_end = 0  # events not yet handled when the clients stopped
        self.drain_seconds = 0.0


def _readings(groups: dict[str, list[int]]) -> dict[str, cpu.Reading]:
    return {name: cpu.Reading.of(pids) for name, pids in groups.items()}


def _timed(
    clients: WorkerGroup, seconds: float, *, redis_pid: int | None, processes: dict | None = None
) -> _Window:
    from django.db import connection

    window = _Window()
    with connection.cursor() as cursor:
        groups = _groups(clients, processes, cursor, redis_pid)
        window.before = _readings(groups)
        head_before = _head(cursor)
        window.rate = clients.timed(APPEND, CLIENTS, seconds)
        client_readings = _readings({"clients": groups["clients"]})
        window.events = _head_count(cursor, head_before)
        if processes is not None:
            window.lag_at_end = _unhandled(cursor)
            started = time.monotonic()
            _wait_until_handled(cursor)
            window.drain_seconds = time.monotonic() - started
        # Backends that started during the window (a task's connection) count too.
        groups = _groups(clients, processes, cursor, redis_pid)
        window.after = {**_readings(groups), **client_readings}
    return window


def _groups(
    clients: WorkerGroup, processes: dict | None, cursor, redis_pid: int | None
) -> dict[str, list[int]]:
    groups = {"clients": clients.pids}
    groups["postgres"] = cpu.postgres_backends(cursor, cursor.connection.info.dbname)
    for name, process in (processes or {}).items():
        groups[name] = cpu.session_members(process.pid)
    if redis_pid is not None:
        groups["Redis (shared server)"] = [redis_pid]
    return groups


def _head(cursor) -> int:
    cursor.execute("SELECT coalesce(max(position), 0) FROM eventstore_event")
    return cursor.fetchone()[0]


def _head_count(cursor, after: int) -> int:
    cursor.execute("SELECT count(*) FROM eventstore_event WHERE position > %s", [after])
    return cursor.fetchone()[0]


def _unhandled(cursor) -> int:
    """Events past the lowest checkpoint of the subscriber that handles every event (not yet handled)."""
    cursor.execute(
        "SELECT count(*) FROM eventstore_event WHERE position > ("
        " SELECT coalesce(min(position), 0) FROM eventstore_checkpoint WHERE name LIKE %s)",
        [f"sub:{EVERY_EVENT_SUBSCRIBER}:p%"],
    )
    return cursor.fetchone()[0]


def _wait_until_handled(cursor) -> None:
    """Until every partition's checkpoint of EVERY_EVENT_SUBSCRIBER has reached the relay's for it."""
    from eventstore import streams
    from eventstore.relay import RELAY_CHECKPOINT, relay_partition_checkpoint, subscriber_checkpoint_name

    head = _head(cursor)
    partitions = range(streams.partition_count())
    deadline = time.monotonic() + CAUGHT_UP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        cursor.execute("SELECT name, position FROM eventstore_checkpoint")
        positions = dict(cursor.fetchall())
        relayed = positions.get(RELAY_CHECKPOINT, 0) >= head
        handled = all(
            positions.get(subscriber_checkpoint_name(EVERY_EVENT_SUBSCRIBER, p), 0)
            >= positions.get(relay_partition_checkpoint(p), 0)
            for p in partitions
        )
        if relayed and handled:
            return
        time.sleep(0.05)
    print(f"  warning: events still unhandled {CAUGHT_UP_TIMEOUT_SECONDS} s after the clients stopped")


@contextlib.contextmanager
def _deployed(results_dir: Path) -> Iterator[dict[str, subprocess.Popen]]:
    """The runner, a Celery worker and beat, started and idle before the block (their start-up is not measured)."""
    with contextlib.ExitStack() as stack:
        log = results_dir / "celery-worker-deployed.log"
        # INFO as in Procfile.prod; it is also how wait_ready sees the worker start.
        worker = services.celery_worker(log, loglevel="INFO")
        stack.callback(services.stop, worker)
        beat = services.celery_beat(
            results_dir / "celery-beat-deployed.log", results_dir / "celerybeat-schedule-deployed"
        )
        stack.callback(services.stop, beat)
        runner = stack.enter_context(services.stream_runner(results_dir / "event-streams-deployed.log"))
        services.wait_ready(worker, log)
        time.sleep(1)  # past the runner's first full check of every partition
        yield {"stream runner": runner, "Celery worker": worker, "Celery beat": beat}


def _add(collector, key: str, how: str, window: _Window, client_backends: set[int]) -> None:
    conditions = f"1 event/transaction, {CLIENTS} processes, {how}"
    collector.add(
        f"{key}_append_4", f"platform publish, {CLIENTS} clients, {how}", conditions, "events/s", window.rate
    )
    if window.lag_at_end:
        print(
            f"    ({window.lag_at_end:,} events unhandled at the window's end, handled {window.drain_seconds:.1f} s later)"
        )
    # In µs per event, so the table shows whole numbers: 1,000 µs/event is 1 CPU s per 1,000 events.
    per_event_us = 1e6 / max(window.events, 1)
    cpu_conditions = f"{conditions}; CPU per event published (µs/event = ms of CPU per 1,000 events)"
    groups = {name: (window.before[name], window.after[name]) for name in window.after if name != "postgres"}
    # Postgres: the clients' own backends, and every other backend of the bench database.
    before, after = window.before["postgres"], window.after["postgres"]
    for name, keep in (
        ("Postgres, the clients' backends", lambda pid: pid in client_backends),
        ("Postgres, other backends", lambda pid: pid not in client_backends),
    ):
        groups[name] = (
            cpu.Reading({p: s for p, s in before.seconds.items() if keep(p)}),
            cpu.Reading({p: s for p, s in after.seconds.items() if keep(p)}),
        )
    for name, (group_before, group_after) in groups.items():
        seconds, ended = cpu.spent(group_before, group_after)
        if ended:
            print(f"    ({ended} processes of {name} ended during the window: their time is lost)")
        slug = re.sub(r"[^a-z]+", "_", name.lower()).strip("_")
        collector.add(
            f"{key}_cpu_{slug}",
            f"CPU, {name}, {how}",
            cpu_conditions,
            "CPU µs/event",
            seconds * per_event_us,
            higher=False,
        )
