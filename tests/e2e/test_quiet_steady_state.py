"""A quiet steady state: demo traffic with nothing failing takes no recovery path.

`manage.py simulate` runs against real processes (a Celery worker, beat and
the stream runner, on a private Redis). Afterwards no process has logged a
warning or an error (a needless backfill logs one, so does a retry or a
parked event), beat's routine sweep is not in the INFO log, nothing is
parked, and every subscriber's lag returns to 0.
"""

import re
import time

from eventstore.backfills import backfill_counts
from eventstore.models import ParkedEvent
from eventstore.monitoring import relay_lag
from eventstore.redis_location import RedisLocation
from eventstore.selectors import subscriber_status

from .harness import wait_for

# Python logging ("… WARNING logger …") and Celery ("[… WARNING/MainProcess] …") levels, and tracebacks.
NOT_QUIET = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback")
# "Task eventstore.tasks.sweep[<id>] received" / "succeeded", "Sending due task … (eventstore.tasks.sweep)";
# not the worker's list of its tasks at start.
SWEEP_LINE = re.compile(r"eventstore\.tasks\.sweep[\[)]")


def test_steady_demo_traffic_logs_no_warning_parks_nothing_and_every_lag_returns_to_zero(platform):
    platform.start_worker("steady", concurrency=2)
    platform.start_streams()
    platform.start_beat()
    simulate = platform.start_manage("simulate", "simulate", "--rate", "3", "--duration", "30", "--seed", "7")
    simulate.popen.wait(120)
    assert simulate.popen.returncode == 0, simulate.log()
    assert "simulated" in simulate.log()

    def caught_up() -> bool:
        return relay_lag() == 0 and all(row["lag"] == 0 for row in subscriber_status())

    finished = time.monotonic()
    wait_for(caught_up, timeout=60, interval=0.5, message="every subscriber's lag back to 0")
    print(f"every lag back to 0 within {time.monotonic() - finished:.1f} s of the traffic's end")
    assert not ParkedEvent.objects.filter(resolved_at__isnull=True).exists()
    redis = RedisLocation.parse(platform.redis_url).client()
    assert all(runs == 0 for runs, _ in backfill_counts(redis).values()), backfill_counts(redis)
    noisy = {
        process.name: [line for line in process.log().splitlines() if NOT_QUIET.search(line)]
        for process in platform.processes
        if not process.name.startswith("redis")  # the server's own notes about the host
    }
    assert noisy == {name: [] for name in noisy}
    # Nor does beat's 2-second sweep write its three lines (sent, received, succeeded) at INFO.
    swept = {
        process.name: len(SWEEP_LINE.findall(process.log()))
        for process in platform.processes
        if process.name in ("beat", "worker-steady")
    }
    assert swept == {"beat": 0, "worker-steady": 0}
    # And each subscriber provably handled every event of its types exactly once in effect.
    proof = platform.manage("verify_delivery")
    assert "every event handled exactly once" in proof, proof
