"""Reading the platform's log (3), replaying it into projections (4), relaying it to Redis (5)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from .database import ROOT, bench_environment


def follow_rate() -> tuple[int, float]:
    """Follow the whole log in order through the gap-safe reader; (events, events per second)."""
    from django.db import connection

    from eventstore.reading import follow

    started = time.perf_counter()
    read = sum(len(batch) for batch in follow())
    elapsed = time.perf_counter() - started
    connection.close()
    return read, read / elapsed


_CLOSING_LINE = re.compile(r"Replayed (\d+) events into (\d+) projection\(s\) in ([\d.]+) s")


def replay_all(log_events: int) -> tuple[float, float, str]:
    """Time `manage.py replay_events --no-input` (every projection).

    Returns (log events per second of replay time, the command's own applied-events
    rate, its closing line). Replay time is what the command measures itself,
    without interpreter start-up.
    """
    done = subprocess.run(
        [sys.executable, "manage.py", "replay_events", "--no-input", "--verbosity", "1"],
        cwd=ROOT,
        env={**os.environ, **bench_environment()},
        check=True,
        capture_output=True,
        text=True,
    )
    match = _CLOSING_LINE.search(done.stdout)
    if match is None:
        raise RuntimeError(f"replay_events printed no closing line:\n{done.stdout}\n{done.stderr}")
    applied, _projections, seconds = int(match[1]), int(match[2]), float(match[3])
    return log_events / seconds, applied / seconds, match[0]


def reset_relay() -> None:
    """Forget everything relayed: empty the bench Redis db and move the relay's checkpoints to 0."""
    from django.db import connection

    from eventstore.models import Checkpoint
    from eventstore.redis import get_redis

    get_redis().flushdb()
    Checkpoint.objects.filter(name__startswith="relay").update(position=0)
    Checkpoint.objects.filter(name__startswith="sub:").update(position=0)
    connection.close()


def relay_rate(events: int) -> float:
    """Relay `events` events from a reset checkpoint to Redis Streams; events per second."""
    from django.db import connection

    from eventstore.relay import relay_batch

    reset_relay()
    started = time.perf_counter()
    sent = 0
    while sent < events:
        count = relay_batch().sent
        if count == 0:
            break
        sent += count
    elapsed = time.perf_counter() - started
    connection.close()
    return sent / elapsed


def log_size() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM eventstore_event")
        return cursor.fetchone()[0]
