"""The latency subscriber: notes when its handler saw each bench event.

The runner compares that time with the moment the event's transaction had
committed (bench/latency.py). It writes to Redis, outside the handler's
transaction; a redelivered event overwrites its own entry.
"""

from __future__ import annotations

import time

from eventstore.envelope import RecordedEvent
from eventstore.subscribers import Subscriber, register_subscriber
from platform_site.redis_connection import get_redis

LATENCY_KEY = "bench:latency"
# Only events of this kind are noted: the write figures run with a stream
# runner too (as deployed), and their events must not cost it a Redis write each.
PROBE_KIND = "latency-probe"


def note_handling_time(event: RecordedEvent) -> None:
    handled_at = time.time()
    if event.data["kind"] != PROBE_KIND:
        return
    get_redis().hset(LATENCY_KEY, str(event.position), f"{event.recorded_at.timestamp()} {handled_at}")


BENCH_LATENCY = register_subscriber(
    Subscriber(
        name="bench-latency",
        description="Benchmark only: records when each bench event reached a handler.",
        handlers={"bench:thing_recorded": note_handling_time},
    )
)
