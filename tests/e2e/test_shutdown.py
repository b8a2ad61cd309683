"""Stopping a worker while it consumes a backlog loses nothing and repeats nothing.

Two ways a worker is stopped in production:
- `docker stop` / Kubernetes send SIGTERM to the main process only: Celery's
  warm shutdown lets the running consume tasks finish, then exits.
- systemd (KillMode=control-group) and some supervisors signal every process
  of the group: the pool processes die at once, mid-batch, and Celery
  returns their tasks (acks_late, reject on worker lost).

Either way each event is handled in its own transaction together with the
subscriber's checkpoint, so the worker started next goes on exactly where the
stopped one ended.
"""

from __future__ import annotations

import os
import signal

import pytest

from eventstore.models import ParkedEvent
from tests.conftest import start_at_head

from .harness import wait_for
from .scale import (
    caught_up,
    effect_counts,
    new_run,
    positions_in_log,
    positions_recorded_in_order,
    write_things,
)

BACKLOG_STREAMS = 40
BACKLOG_PER_STREAM = 100


def handled(events) -> int:
    return sum(1 for count in effect_counts([event.id for event in events]).values() if count)


@pytest.mark.parametrize("whole_group", [False, True], ids=["main-process", "process-group"])
def test_sigterm_mid_backlog(platform, whole_group):
    """A worker stopped while it consumes a backlog: its successor handles the rest, each once."""
    start_at_head()
    run = new_run()
    backlog = write_things(run, streams_count=BACKLOG_STREAMS, per_stream=BACKLOG_PER_STREAM)
    worker = platform.start_worker("first")
    platform.start_beat()
    wait_for(lambda: handled(backlog) >= 20, timeout=60, interval=0.05, message="consumption to start")

    # SIGTERM to every process of the worker, or to its main process only.
    stop = worker.terminate if whole_group else _terminate_main_process(worker)
    stop()
    stopped_at = handled(backlog)
    assert stopped_at < len(backlog), "the backlog was too small to stop the worker in the middle"
    log = worker.log()
    assert "Warm shutdown" in log or "warm shutdown" in log.lower()
    if not whole_group:
        assert worker.popen.returncode == 0, "warm shutdown ended by itself (running tasks finished)"

    platform.start_worker("second")
    wait_for(
        lambda: handled(backlog) == len(backlog) and caught_up(),
        timeout=120,
        interval=0.5,
        message="the second worker to finish the backlog",
    )
    assert set(effect_counts([event.id for event in backlog]).values()) == {1}
    assert positions_recorded_in_order(run) == positions_in_log(run)
    # No subscriber parked an event because its worker was stopped under it.
    assert not ParkedEvent.objects.filter(resolved_at__isnull=True).exists(), list(
        ParkedEvent.objects.values("subscriber", "event_type", "error")[:5]
    )


def _terminate_main_process(worker):
    def stop() -> None:
        os.kill(worker.popen.pid, signal.SIGTERM)  # as `docker stop` does: PID 1 only
        worker.popen.wait(120)

    return stop
