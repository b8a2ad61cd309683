"""kill -9 of each process mid-work: the stream runner, the relay leader, a Celery pool process, a web worker.

No process gets a chance to clean up. What must hold: every event has its
effect exactly once (test-recorder counts each one in Postgres), a request cut
off mid-transaction wrote nothing, votes counted exactly, and work resumes by
itself within seconds (a supervisor restarting the killed runner is the only
outside help, as systemd or compose would give). Recovery is measured from the
kill.
"""

from __future__ import annotations

import http.client
import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from eventstore.reading import read_stream

from .faults import child_pids, kill_9, member, post, recovered, score, unresolved_parked
from .harness import wait_for
from .test_delivery import all_once, handled, write_events

MEMBERS = 6


def test_a_killed_stream_runner_restarted_by_its_supervisor_loses_and_doubles_nothing(platform):
    backlog = write_events(1000, streams=40)  # committed first: the runner starts with work waiting
    doomed = platform.start_streams("streams-doomed")
    wait_for(lambda: handled(backlog) >= 1, timeout=60, interval=0.02, message="the first effects")
    doomed.kill()  # SIGKILL mid-backlog: its Postgres sessions and advisory locks end with it
    killed_at = time.monotonic()
    done_at_kill = handled(backlog)
    assert done_at_kill < len(backlog), "the kill happened mid-backlog"

    platform.start_streams("streams-restarted")  # what the process manager does
    recovered(
        "kill -9 stream runner: effects flow again (restart included)",
        killed_at,
        lambda: handled(backlog) > done_at_kill,
        timeout=60,
    )
    recovered(
        "kill -9 stream runner: backlog of 1000 events done (restart included)",
        killed_at,
        lambda: handled(backlog) == len(backlog),
        timeout=120,
        interval=0.2,
    )
    assert all_once(backlog), "no event had a second effect"
    assert unresolved_parked() == 0


def test_when_the_relay_leader_dies_the_other_runner_takes_over_without_a_new_commit(platform):
    leader = platform.start_streams("streams-leader")
    first = write_events(20)
    wait_for(lambda: all_once(first), timeout=60, message="the first runner to lead the relay")
    platform.start_streams("streams-follower")

    os.killpg(leader.popen.pid, signal.SIGSTOP)  # the leader hangs, still holding the relay's lock
    stuck = write_events(100)  # commits wake the follower, which cannot lead yet
    time.sleep(1.5)  # and its polls find the lock taken
    assert handled(stuck) == 0, "nothing relayed while the leader hangs"

    leader.kill()  # its session ends, and with it the lock; no commit comes to wake anyone
    killed_at = time.monotonic()
    recovered(
        "kill -9 relay leader: the other runner relays and delivers everything",
        killed_at,
        lambda: all_once(stuck),
        timeout=30,
    )
    assert all_once(first + stuck)
    assert unresolved_parked() == 0


def test_a_celery_pool_process_killed_mid_task_loses_and_doubles_nothing(platform):
    platform.start_beat()
    worker = platform.start_worker("pool-kill", concurrency=1)
    backlog = write_events(600, streams=20)
    wait_for(lambda: handled(backlog) >= 20, timeout=60, interval=0.02, message="the first effects")
    [pool_process] = child_pids(worker.popen.pid)
    kill_9(pool_process)  # mid-task: the worker's only pool process, while the backlog drains
    killed_at = time.monotonic()
    done_at_kill = handled(backlog)
    assert done_at_kill < len(backlog), "the kill happened mid-backlog"

    recovered(
        "kill -9 Celery pool process: effects flow again",
        killed_at,
        lambda: handled(backlog) > done_at_kill,
        timeout=60,
    )
    recovered(
        "kill -9 Celery pool process: backlog of 600 events done",
        killed_at,
        lambda: handled(backlog) == len(backlog),
        timeout=120,
        interval=0.2,
    )
    assert all_once(backlog), "no event had a second effect"
    assert unresolved_parked() == 0
    assert worker.alive() and pool_process not in child_pids(worker.popen.pid), (
        "the worker replaced its pool process"
    )
    assert "signal 9" in worker.log() or "SIGKILL" in worker.log()


def answer(platform, method: str, path: str, body: dict | None = None, token: str | None = None):
    """(status, body) of one request; status None when the connection was cut off."""
    try:
        status, payload, _ = platform.request(method, path, body, token=token)
        return status, payload
    except (OSError, http.client.HTTPException) as exc:
        return None, {"error": repr(exc)}


def vote_until_answered(platform, token: str, post_id: str) -> int:
    """A client whose request was cut off sends it again (a vote is idempotent); return the attempts."""
    for attempt in range(1, 20):
        status, body = answer(platform, "POST", f"/api/posts/{post_id}/vote/", {"value": 1}, token)
        if status == 200:
            return attempt
        assert status is None, body  # only a cut-off connection is expected here
        time.sleep(0.1)
    raise AssertionError("the vote never got an answer")


def test_a_web_worker_killed_mid_request_writes_nothing_half_and_the_site_answers_on(platform):
    platform.start_web()
    platform.start_streams()
    master = next(process for process in platform.processes if process.name.startswith("web-")).popen.pid
    tokens = [member(platform) for _ in range(MEMBERS)]
    target = post(platform, tokens[0])
    stream_id = f"thing-slow-{uuid.uuid4().hex[:10]}"

    with ThreadPoolExecutor(max_workers=MEMBERS + 1) as pool:
        slow = pool.submit(answer, platform, "GET", f"/test/slow-write/?stream_id={stream_id}&seconds=20")
        serving = int(
            wait_for(
                lambda: platform.redis().get(f"slow-write:{stream_id}"),
                timeout=30,
                message="the slow request",
            )
        )
        votes = [pool.submit(vote_until_answered, platform, token, target) for token in tokens]
        kill_9(serving)  # mid-request: its transaction is open, its event not committed
        killed_at = time.monotonic()
        status, body = slow.result(timeout=30)
        attempts = [future.result(timeout=60) for future in votes]

    assert status is None, f"the client of the killed worker got no answer, not {status} {body}"
    assert read_stream(stream_id) == [], "nothing of the cut-off request was written"
    recovered(
        "kill -9 gunicorn worker: the master runs its full set of workers again",
        killed_at,
        lambda: len(child_pids(master)) == 2 and serving not in child_pids(master),
        timeout=30,
    )
    # Its client, having had no answer, sends it again: exactly one event.
    status, body = answer(platform, "GET", f"/test/slow-write/?stream_id={stream_id}&seconds=0")
    assert status == 200, body
    assert len(read_stream(stream_id)) == 1
    assert score(platform, target) == MEMBERS, f"every vote counted once (attempts: {attempts})"
    assert unresolved_parked() == 0
