"""Guarantee 6 with real worker processes: killed workers and a flushed Redis lose nothing.

The `test-recorder` subscriber (tests/testapp/handlers.py) counts its effect
per event in Postgres and refuses a stream version that arrives before its
predecessor, so "exactly once, in stream order" is checked per event.
"""

import os
import signal
import threading
import time
import uuid

from django.db import transaction

from eventstore.bus import publish
from eventstore.models import ParkedEvent
from eventstore.reading import read_stream
from eventstore.streams import partition_count
from tests.sample_events import THING_HAPPENED
from tests.testapp.handlers import effect_count

from .harness import wait_for


def write_events(count: int, streams: int = 10) -> list:
    run = uuid.uuid4().hex[:8]
    events = []
    for n in range(count):
        with transaction.atomic():
            events.append(
                publish(THING_HAPPENED, stream_id=f"thing-{run}-{n % streams}", data={"label": f"e{n}"})
            )
    return events


def effects(events) -> list[int]:
    return [effect_count(event.id) for event in events]


def all_once(events) -> bool:
    return effects(events) == [1] * len(events)


def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_nothing(platform):
    platform.start_beat()
    doomed = platform.start_worker("doomed", concurrency=1)
    events = write_events(400)
    wait_for(lambda: sum(effects(events)) >= 20, timeout=60, message="the first effects")
    doomed.kill()  # SIGKILL in the middle of the backlog
    assert sum(effects(events)) < len(events), "the kill happened mid-batch"
    platform.start_worker("survivor", concurrency=2)
    wait_for(lambda: all_once(events), timeout=120, interval=0.5, message="every effect exactly once")
    assert not ParkedEvent.objects.filter(subscriber="test-recorder", resolved_at__isnull=True).exists()


def test_a_redis_flush_mid_flow_loses_nothing_and_repeats_nothing(platform):
    platform.start_beat()
    platform.start_worker("flush", concurrency=2)
    before = write_events(150)
    wait_for(lambda: sum(effects(before)) >= 10, timeout=60, message="the first effects")
    platform.redis().flushall()  # streams, consumer groups, queued tasks: all gone
    after = write_events(50)
    wait_for(lambda: all_once(before + after), timeout=120, interval=0.5, message="every effect exactly once")
    assert not ParkedEvent.objects.filter(subscriber="test-recorder", resolved_at__isnull=True).exists()


def test_a_task_sent_from_a_request_runs_with_the_request_s_correlation_id(platform):
    platform.start_web()
    platform.start_worker("task")
    correlation = uuid.uuid4()
    status, body, headers = platform.request(
        "GET", "/test/send-task/", headers={"X-Correlation-ID": str(correlation)}
    )
    assert status == 200 and headers["X-Correlation-ID"] == str(correlation)
    events = wait_for(lambda: read_stream(body["stream_id"]), timeout=60, message="the task's event")
    assert events[0].correlation_id == correlation
    assert events[0].metadata["task"] == "tests.testapp.tasks.record_from_task"


def handled(events) -> int:
    """How many of the events have had their effect (one query, for large batches)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM eventstore_checkpoint WHERE name = ANY(%s)",
            [[f"effect:{event.id}" for event in events]],
        )
        return cursor.fetchone()[0]


def test_the_stream_runner_delivers_alone_and_a_killed_runner_hands_over_to_celery(platform):
    from eventstore.stream_runner import runner_alive

    first = platform.start_streams("streams-first")
    quick = write_events(30)
    wait_for(lambda: all_once(quick), timeout=60, message="the runner's effects without any worker")
    # SIGUSR1: every thread's stack in the log (a stuck loop shows where), and the runner goes on.
    os.kill(first.popen.pid, signal.SIGUSR1)
    wait_for(lambda: "_wait_for_wake" in first.log(), timeout=10, message="the threads' stacks")
    assert first.log().count("Thread 0x") >= 1 + partition_count()  # the relay and each partition
    more = write_events(5)
    wait_for(lambda: all_once(more), timeout=30, message="effects after the stacks were printed")
    quick += more
    first.terminate()  # SIGTERM: a clean stop says so at once
    assert not runner_alive(platform.redis())

    backlog = write_events(3000, streams=50)
    doomed = platform.start_streams("streams-doomed")
    wait_for(lambda: handled(backlog) >= 1, timeout=60, interval=0.02, message="the first effects")
    doomed.kill()  # SIGKILL mid-backlog: its key expires, then Celery takes over
    assert handled(backlog) < len(backlog), "the kill happened mid-backlog"
    wait_for(lambda: not runner_alive(platform.redis()), timeout=15, message="the runner's key to expire")
    platform.start_beat()
    platform.start_worker("after-runner", concurrency=2)
    late = write_events(20)
    everything = quick + backlog + late
    wait_for(
        lambda: handled(everything) == len(everything), timeout=180, interval=0.5, message="every effect"
    )
    assert all_once(everything), "no event had a second effect"
    assert not ParkedEvent.objects.filter(subscriber="test-recorder", resolved_at__isnull=True).exists()


def write_in_batches(count: int, per_transaction: int = 25, streams: int = 10) -> list:
    """Thousands of events a second from this one process: several per transaction."""
    run = uuid.uuid4().hex[:8]
    events = []
    for start in range(0, count, per_transaction):
        with transaction.atomic():
            for n in range(start, min(count, start + per_transaction)):
                events.append(
                    publish(THING_HAPPENED, stream_id=f"thing-{run}-{n % streams}", data={"label": f"b{n}"})
                )
    return events


def test_under_a_high_commit_rate_the_runner_reads_on_its_clock_and_still_delivers_each_event_once(platform):
    from eventstore import streams

    runner = platform.start_streams("streams-paced")
    redis = platform.redis()
    paced_seen, stop = threading.Event(), threading.Event()

    def watch_the_paced_key() -> None:
        while not stop.is_set():
            if redis.exists(streams.relay_paced_key()):
                paced_seen.set()
            time.sleep(0.01)

    watcher = threading.Thread(target=watch_the_paced_key)
    watcher.start()
    try:
        burst = write_in_batches(6000)
        wait_for(
            lambda: handled(burst) == len(burst), timeout=120, interval=0.2, message="the burst's effects"
        )
    finally:
        stop.set()
        watcher.join()
    assert paced_seen.is_set(), "the relay never read on its clock"
    assert "commits no longer wake it" in runner.log()
    # The rate fell to nothing: the relay tells writers to push again ...
    wait_for(lambda: not redis.exists(streams.relay_paced_key()), timeout=15, message="the key's removal")
    wait_for(lambda: "woken by every commit again" in runner.log(), timeout=15, message="the runner's line")
    # ... and lone commits afterwards are delivered by their wake-ups (the runner polls every second,
    # so this does not tell a wake-up from a poll; the integration tests do).
    late = write_events(5)
    wait_for(lambda: all_once(late), timeout=30, message="the late effects")
    assert all_once(burst), "an event of the burst had no effect, or a second one"
    assert not ParkedEvent.objects.filter(subscriber="test-recorder", resolved_at__isnull=True).exists()
