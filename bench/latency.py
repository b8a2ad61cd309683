"""(5) End-to-end latency: commit -> relay -> Redis Streams -> the stream runner -> a subscriber's handler.

A Celery worker, beat and the stream runner (`manage.py run_event_streams`)
run as in the Procfile, with bench.settings; the
`bench-latency` subscriber (bench.benchapp.handlers) notes when its handler
saw each event. The runner offers a steady load, one event per transaction
through `publish`, and compares each handling time with the moment that
event's transaction had committed.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import time
from pathlib import Path

from .database import ROOT, bench_environment
from .platform_writes import _publish

VENV_BIN = Path(__file__).resolve().parents[1] / ".venv" / "bin"
WORKER_CONCURRENCY = 2


def _catch_up_everything() -> None:
    """Start from a quiet log: every checkpoint at the head, Redis empty."""
    from django.db import connection

    from eventstore import streams
    from eventstore.models import Checkpoint
    from eventstore.relay import RELAY_CHECKPOINT, relay_partition_checkpoint, subscriber_checkpoint_name
    from eventstore.subscribers import registered_subscribers
    from platform_site.redis_connection import get_redis

    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(position), 0) FROM eventstore_event")
        head = cursor.fetchone()[0]
    names = [RELAY_CHECKPOINT]
    for partition in range(streams.partition_count()):
        names.append(relay_partition_checkpoint(partition))
        names += [subscriber_checkpoint_name(s, partition) for s in registered_subscribers()]
    for name in names:
        Checkpoint.objects.update_or_create(name=name, defaults={"position": head})
    get_redis().flushdb()


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env={**os.environ, **bench_environment()},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _offer(rate: float, seconds: float) -> dict[int, float]:
    """Publish `rate` events per second for `seconds`, one per transaction, on a fixed schedule.

    Returns when each event's transaction had committed, by position: the
    latency runs from there (`recorded_at` is the transaction's start).
    """
    from django.db import transaction

    committed = {}
    started = time.time()
    for n in range(int(rate * seconds)):
        delay = started + n / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        with transaction.atomic():
            event = _publish(n)
        committed[event.position] = time.time()
    return committed


def _handled(expected: int, timeout: float) -> dict[int, float]:
    """When the handler saw each event, by position."""
    from .benchapp.handlers import LATENCY_KEY

    redis = _redis()
    deadline = time.time() + timeout
    while time.time() < deadline and redis.hlen(LATENCY_KEY) < expected:
        time.sleep(0.2)
    entries = redis.hgetall(LATENCY_KEY)
    redis.delete(LATENCY_KEY)
    return {int(position): float(value.split()[1]) for position, value in entries.items()}


def _redis():
    from platform_site.redis_connection import get_redis

    return get_redis()


def run(collector, *, reps: int, seconds: float, rate: float, results_dir: Path) -> None:
    from django.db import transaction

    _catch_up_everything()
    celery = str(VENV_BIN / "celery")
    worker = _start(
        [
            celery,
            "-A",
            "platform_site",
            "worker",
            f"--concurrency={WORKER_CONCURRENCY}",
            "--loglevel=WARNING",
            "-n",
            "bench@%h",
            "--without-gossip",
            "--without-mingle",
        ],
        results_dir / "celery-worker.log",
    )
    beat = _start(
        [
            celery,
            "-A",
            "platform_site",
            "beat",
            "--loglevel=WARNING",
            f"--schedule={results_dir / 'celerybeat-schedule'}",
        ],
        results_dir / "celery-beat.log",
    )
    streams = _start(
        [str(VENV_BIN / "python"), "manage.py", "run_event_streams"],
        results_dir / "event-streams.log",
    )
    try:
        # Warm-up: wait until the runner handles an event end to end.
        with transaction.atomic():
            _publish(0)
        if not _handled(1, timeout=90):
            raise RuntimeError(f"nothing was handled; see {results_dir}/event-streams.log")
        for _ in range(reps):
            committed = _offer(rate, seconds)
            handled = _handled(len(committed), timeout=60)
            latencies = sorted((handled[p] - at) * 1000 for p, at in committed.items() if p in handled)
            if len(latencies) < len(committed):
                print(
                    f"  warning: {len(committed) - len(latencies)} of {len(committed)} events not handled in time"
                )
            conditions = (
                f"{rate:.0f} events/s offered for {seconds:.0f} s, run_event_streams"
                f" + Celery worker --concurrency={WORKER_CONCURRENCY} + beat"
            )
            collector.add(
                "relay_latency_p50",
                "commit -> subscriber handler, p50",
                conditions,
                "ms",
                statistics.median(latencies),
                higher=False,
            )
            collector.add(
                "relay_latency_p99",
                "commit -> subscriber handler, p99",
                conditions,
                "ms",
                latencies[int(len(latencies) * 0.99) - 1],
                higher=False,
            )
    finally:
        _stop(streams)
        _stop(beat)
        _stop(worker)
