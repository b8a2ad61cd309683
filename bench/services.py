"""The platform's own processes, started for a figure as the Procfile starts them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from .database import ROOT, bench_environment

VENV_BIN = ROOT / ".venv" / "bin"


def start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env={**os.environ, **bench_environment()},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


WORKER_CONCURRENCY = 2  # as Procfile.prod's default


def celery_worker(log: Path, *, loglevel: str = "WARNING") -> subprocess.Popen:
    """A Celery worker as Procfile.prod starts it; `loglevel=INFO` also lets `wait_ready` see it start."""
    return start(
        [
            str(VENV_BIN / "celery"),
            "-A",
            "platform_site",
            "worker",
            f"--concurrency={WORKER_CONCURRENCY}",
            f"--loglevel={loglevel}",
            "-n",
            "bench@%h",
            "--without-gossip",
            "--without-mingle",
        ],
        log,
    )


def celery_beat(log: Path, schedule: Path) -> subprocess.Popen:
    return start(
        [
            str(VENV_BIN / "celery"),
            "-A",
            "platform_site",
            "beat",
            "--loglevel=WARNING",
            f"--schedule={schedule}",
        ],
        log,
    )


def wait_ready(process: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    """Until a worker started with `loglevel=INFO` says it is ready (its start-up is no part of a figure)."""
    deadline = time.monotonic() + timeout
    while " ready." not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the Celery worker did not start; see {log}")
        time.sleep(0.2)


def catch_up_everything() -> None:
    """Start from a quiet log: every checkpoint at the head, Redis empty.

    The mixed workload is already in the log; a runner started without this
    would first relay and handle all of it while a figure is being taken.
    """
    from django.db import connection

    from eventstore import streams
    from eventstore.models import Checkpoint
    from eventstore.redis import get_redis
    from eventstore.relay import RELAY_CHECKPOINT, relay_partition_checkpoint, subscriber_checkpoint_name
    from eventstore.subscribers import registered_subscribers

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


@contextlib.contextmanager
def stream_runner(log: Path) -> Iterator[subprocess.Popen]:
    """`manage.py run_event_streams`, alive (its keys in Redis) before the block starts."""
    from eventstore import stream_runner as runner
    from eventstore.redis import get_redis

    process = start([str(VENV_BIN / "python"), "manage.py", "run_event_streams"], log)
    try:
        deadline = time.monotonic() + 60
        while not runner.runner_alive(get_redis()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the stream runner did not start; see {log}")
            time.sleep(0.1)
        yield process
    finally:
        stop(process)
