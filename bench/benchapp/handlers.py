"""The latency subscriber: notes when its handler saw each latency probe.

The runner compares that time with the moment the event's transaction had
committed (bench/latency.py). It writes to Redis, outside the handler's
transaction; a redelivered event overwrites its own entry.
"""

from __future__ import annotations

import time

from eventstore.envelope import RecordedEvent
from eventstore.redis import get_redis
from eventstore.subscribers import Subscriber, register_subscriber

LATENCY_KEY = "bench:latency"


def note_handling_time(event: RecordedEvent) -> None:
    handled_at = time.time()
    get_redis().hset(LATENCY_KEY, str(event.position), f"{event.recorded_at.timestamp()} {handled_at}")


BENCH_LATENCY = register_subscriber(
    Subscriber(
        name="bench-latency",
        description="Benchmark only: records when each bench event reached a handler.",
        handlers={"bench:latency_probe": note_handling_time},
    )
)
