"""The figures, repetition by repetition, with raw, peer and platform interleaved.

The machine may be busy with other work; running the three systems back to
back inside each repetition gives them the same conditions, so their ratios
hold even when absolute figures move.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings

from . import peer, platform_log, platform_statement, raw
from .results import Collector
from .workers import WorkerGroup

WRITERS = {
    "raw": ("raw psycopg insert", f"{raw.__name__}:insert_one_per_transaction", "1 event/transaction"),
    "peer": (
        "peer (eventsourcing) save",
        f"{peer.__name__}:save_one_per_transaction",
        "1 new aggregate + 1 event/save",
    ),
    "statement": (
        "platform append statement via plain psycopg",
        f"{platform_statement.__name__}:insert_one_per_transaction",
        "1 event/transaction, the event store's SQL into its table, no Django or bus",
    ),
    "platform": (
        "platform publish",
        "bench.platform_writes:append_one_per_transaction",
        "1 event/transaction",
    ),
}


def _clients(n: int) -> str:
    return f"{n} client{'s' if n > 1 else ''}", f"{n} process{'es' if n > 1 else ''}"


def writes(collector: Collector, *, reps: int, seconds: float, results_dir: Path) -> None:
    """Raw, peer and platform appends, interleaved (as deployed: bench/deployed.py).

    The target figures have no stream runner alive, like raw and peer, which
    relay nothing: each platform commit then asks Redis to queue a relay task
    (the Celery fallback).
    """
    with WorkerGroup(4, django=False) as plain, WorkerGroup(4, django=True) as django:
        _writes(collector, plain, django, reps=reps, seconds=seconds)


def _writes(
    collector: Collector, plain: WorkerGroup, django: WorkerGroup, *, reps: int, seconds: float
) -> None:
    # The statement figure takes its SQL from the event store: its workers are the set-up ones.
    groups = {"raw": plain, "peer": plain, "statement": django, "platform": django}
    for _ in range(reps):
        for clients in (1, 4):
            for system, (label, target, unit_of_work) in WRITERS.items():
                rate = groups[system].timed(target, clients, seconds)
                who, processes = _clients(clients)
                key = {"peer": "peer_save", "raw": "raw_insert", "statement": "platform_statement"}.get(
                    system, "platform_append"
                )
                collector.add(
                    f"{key}_{clients}",
                    f"{label}, {who}",
                    f"{unit_of_work}, {processes}",
                    "events/s",
                    rate,
                )
        rate = plain.timed(f"{raw.__name__}:insert_batches", 1, seconds)
        collector.add(
            "raw_insert_batch",
            "raw psycopg insert, batched",
            f"{raw.BATCH} events/transaction (executemany), 1 process",
            "events/s",
            rate,
        )
        rate = django.timed("bench.platform_writes:append_batches", 1, seconds)
        collector.add(
            "platform_append_batch",
            "platform publish_many, batched",
            "100 events/transaction in one publish_many() call, 1 process",
            "events/s",
            rate,
        )
        rate = django.timed("bench.platform_writes:append_batches_one_call_each", 1, seconds)
        collector.add(
            "platform_append_batch_calls",
            "platform publish, 100 calls",
            "100 publish() calls/transaction, 1 process",
            "events/s",
            rate,
        )


def fill_peer(events: int) -> None:
    peer.fill(events)


def reads(collector: Collector, *, reps: int, events: int) -> None:
    for _ in range(reps):
        collector.add(
            "raw_read",
            "raw psycopg read in order",
            f"{events:,} rows, server-side cursor, jsonb decoded by psycopg",
            "events/s",
            raw.read_in_order(events),
        )
        collector.add(
            "peer_read",
            "peer read notification log",
            f"{events:,} notifications, pages of {peer.PAGE:,}, decoded into domain events",
            "events/s",
            peer.read_log(events),
        )
        read, rate = platform_log.follow_rate()
        collector.add(
            "platform_follow",
            "platform follow() whole log",
            f"{read:,} events, gap-safe, server-side cursor, decoded RecordedEvents",
            "events/s",
            rate,
        )


def replay(collector: Collector, *, reps: int, budget_seconds: float) -> None:
    """Replay `reps` times, or fewer once `budget_seconds` are spent (at least once)."""
    size = platform_log.log_size()
    started = time.perf_counter()
    for _ in range(reps):
        if collector.figures.get("replay_events") and time.perf_counter() - started > budget_seconds:
            print(f"    (replay budget of {budget_seconds:.0f} s spent: fewer repetitions)")
            break
        rate, applied_rate, line = platform_log.replay_all(size)
        print(f"    ({line}; {applied_rate:,.0f} projection applications/s)")
        collector.add(
            "replay_events",
            "replay_events, every projection",
            f"{size:,}-event mixed log, `manage.py replay_events --no-input` "
            f"(REBUILD_JOBS {settings.REBUILD_JOBS})",
            "events/s",
            rate,
        )


def relay(collector: Collector, *, reps: int, events: int) -> None:
    for _ in range(reps):
        collector.add(
            "relay_rate",
            "relay to Redis Streams",
            f"{events:,} events from a reset checkpoint, relay_batch() loop",
            "events/s",
            platform_log.relay_rate(events),
        )
