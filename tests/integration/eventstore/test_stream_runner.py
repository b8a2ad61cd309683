"""The stream runner: commits wake it, it relays and consumes at once; without it, Celery takes over.

The runner polls only every 60 s here, so an event handled within the wait
below was handled because its commit woke the runner, not by polling.
"""

import itertools
import re
import time
import uuid
from collections import defaultdict

import pytest
from django.db import connection, transaction

from eventstore import relay_pacing, streams, wakeups
from eventstore.bus import publish
from eventstore.consumer import StreamRunnerPartition
from eventstore.redis import get_redis
from eventstore.relay import RELAY_CHECKPOINT
from eventstore.stream_runner import KICK_INTERVAL_SECONDS, StreamRunner, runner_alive
from eventstore.wake_nudge import CONNECTION_NAME
from eventstore.wakeups import relay_waker
from tests.conftest import start_at_head
from tests.e2e.harness import wait_for
from tests.sample_events import THING_HAPPENED
from tests.testapp.handlers import effect_count

pytestmark = pytest.mark.django_db(transaction=True)
CELERY_QUEUE = "celery"  # the Redis list the default Celery queue lives in
WAKE_WAIT_SECONDS = 30  # generous for a busy machine; still half the runner's poll period
WAITING = {"timeout": WAKE_WAIT_SECONDS, "interval": 0.01}


@pytest.fixture(autouse=True)
def fresh_redis(monkeypatch):
    get_redis().flushdb()
    start_at_head()  # earlier tests' events are not this runner's work
    yield


@pytest.fixture
def runner():
    started = StreamRunner(poll_seconds=60)
    started.start()
    yield started
    started.stop()


def publish_one(label: str = "ok", stream_id: str | None = None):
    with transaction.atomic():
        return publish(THING_HAPPENED, stream_id=stream_id or f"thing-{uuid.uuid4()}", data={"label": label})


def stream_ids_on_every_partition(per_partition: int) -> list[str]:
    wanted = {p: per_partition for p in range(streams.partition_count())}
    chosen = []
    while any(wanted.values()):
        stream_id = f"thing-{uuid.uuid4()}"
        if wanted[streams.partition_of(stream_id)]:
            wanted[streams.partition_of(stream_id)] -= 1
            chosen.append(stream_id)
    return chosen


def wait_for_effects(events, timeout: float = WAKE_WAIT_SECONDS) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = [effect_count(e.id) for e in events]
        if all(counts):
            return counts
        time.sleep(0.02)
    return [effect_count(e.id) for e in events]


def test_a_commit_wakes_the_runner_which_relays_and_handles_the_event_once(runner):
    first = publish_one()
    assert wait_for_effects([first]) == [1]
    # Later commits too, each on its own, on every partition.
    later = [publish_one(stream_id=stream_id) for stream_id in stream_ids_on_every_partition(3)]
    assert wait_for_effects(later) == [1] * len(later)


def test_while_the_runner_is_alive_commits_queue_no_celery_tasks(runner):
    assert runner_alive(get_redis())
    events = [publish_one() for _ in range(5)]
    assert wait_for_effects(events) == [1] * 5
    assert get_redis().llen(CELERY_QUEUE) == 0


def test_a_stopped_runner_hands_delivery_back_to_celery():
    runner = StreamRunner(poll_seconds=60)
    runner.start()
    assert runner_alive(get_redis())
    runner.stop()
    assert not runner_alive(get_redis())
    publish_one()
    assert get_redis().llen(CELERY_QUEUE) == 1, "the commit queued a relay task for a worker"


def test_the_heartbeat_touches_the_alive_file_for_health_checks(tmp_path):
    alive = tmp_path / "streams.alive"
    runner = StreamRunner(alive_file=str(alive))
    runner.heartbeat()
    assert alive.exists()
    assert runner_alive(get_redis())
    runner.stop()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--partitions", "0,x"], "--partitions takes numbers"),
        (["--partitions", "99"], "no such partitions [99]"),
        (["--poll-seconds", "0"], "--poll-seconds must be positive"),
    ],
)
def test_the_command_refuses_bad_arguments_before_starting(arguments, message):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("run_event_streams", *arguments)
    assert not runner_alive(get_redis())


def test_partitions_no_runner_consumes_are_still_handed_to_celery():
    from eventstore.tasks import kick_consumers

    runner = StreamRunner(partitions=[0], poll_seconds=60)
    runner.start()
    try:
        redis = get_redis()
        assert runner_alive(redis) and runner_alive(redis, 0) and not runner_alive(redis, 1)
        kick_consumers(0, force=True)
        assert redis.llen(CELERY_QUEUE) == 0, "partition 0 is the runner's: it is woken instead"
        kick_consumers(1, force=True)
        assert redis.llen(CELERY_QUEUE) == 1, "partition 1 has no runner: a worker's task is queued"
    finally:
        runner.stop()


def test_the_subscribers_command_and_metrics_say_which_partitions_a_runner_consumes(client, make_user):
    import io

    from django.core.management import call_command

    client.force_login(make_user(is_staff=True, is_superuser=True))

    def runner_lines() -> list[str]:
        out = io.StringIO()
        call_command("subscribers", stdout=out)
        return [line for line in out.getvalue().splitlines() if line.startswith("stream runner")]

    def runner_line() -> str:
        return runner_lines()[0]

    def metric(name: str = "platform_stream_runner_partitions") -> str:
        body = client.get("/metrics").content.decode()
        return next(line for line in body.splitlines() if line.startswith(name))

    assert "none alive" in runner_line()
    assert metric().split()[-1] == "0.0"
    runner = StreamRunner(partitions=[1, 3], poll_seconds=60)
    runner.start()
    try:
        assert runner_lines() == ["stream runner: alive, consuming partitions [1, 3]"]
        assert metric().split()[-1] == "2.0"
        assert metric("platform_relay_paced").split()[-1] == "0.0"
        # The key the relay sets while it reads on its clock (eventstore.relay_pacing):
        get_redis().set(streams.relay_paced_key(), 1, px=60_000)
        assert runner_lines()[1] == (
            "stream runner: a high commit rate; the relay reads every 20 ms, commits do not wake it"
        )
        assert metric("platform_relay_paced").split()[-1] == "1.0"
    finally:
        runner.stop()


def count_wake_up_calls(monkeypatch) -> list:
    """Count the waker's calls to Redis (its one script), each still made for real."""
    calls = []
    real_script = wakeups._kick_relay_script()

    def counting_script(**kwargs):
        calls.append(kwargs["keys"])
        return real_script(**kwargs)

    monkeypatch.setattr(wakeups, "_kick_relay_script", lambda: counting_script)
    return calls


def nudge_connections() -> list[str]:
    """The ids of the connections this process pushes its wake-ups on, whose last command was a push's."""
    return [
        client["id"]
        for client in get_redis().client_list()
        if client["name"] == CONNECTION_NAME and client["cmd"] == "exists"
    ]


def test_right_after_a_wake_up_that_found_the_runner_commits_push_theirs_without_waiting(monkeypatch):
    def just_woke_it() -> None:
        monkeypatch.setattr(relay_waker, "runner_woken_at", time.monotonic())

    redis_calls = count_wake_up_calls(monkeypatch)
    runner = StreamRunner(poll_seconds=60)
    runner.start()
    try:
        first = publish_one()  # wakes the runner, and learns that it is alive: one call with an answer
        assert len(redis_calls) == 1
        assert wait_for_effects([first]) == [1]
        # The next commits push their wake-ups on the nudge connection and read no answer. The
        # runner polls only every 60 s and no longer watches the log between wake-ups: each
        # event is handled this soon because its push woke the relay.
        for _ in range(5):
            just_woke_it()
            event = publish_one()
            assert wait_for_effects([event], timeout=WAKE_WAIT_SECONDS) == [1]
        assert len(redis_calls) == 1, "a commit right after a wake-up waited for Redis' answer"
        assert len(nudge_connections()) == 1  # all five on one connection
    finally:
        runner.stop()
    # The runner is gone; a process that woke it a moment ago pushes to a list nobody
    # reads (beat's sweep relays the commit), so no task is queued ...
    just_woke_it()
    publish_one()
    assert len(redis_calls) == 1
    assert get_redis().llen(CELERY_QUEUE) == 0
    assert get_redis().llen(streams.relay_wake_key()) == 1  # one pending wake-up, however many pushes
    # ... until the interval is over: then a commit asks again, and queues a relay task.
    monkeypatch.setattr(relay_waker, "runner_woken_at", time.monotonic() - KICK_INTERVAL_SECONDS)
    publish_one()
    assert len(redis_calls) == 2
    assert get_redis().llen(CELERY_QUEUE) == 1


def test_a_push_on_a_broken_connection_falls_back_to_the_wake_up_that_reads_its_answer(monkeypatch, runner):
    redis_calls = count_wake_up_calls(monkeypatch)
    assert wait_for_effects([publish_one()]) == [1]
    assert wait_for_effects([publish_one()]) == [1]  # pushed on the nudge connection
    assert len(redis_calls) == 1
    (nudge,) = [client for client in get_redis().client_list() if client["name"] == CONNECTION_NAME]
    assert get_redis().client_kill_filter(_id=nudge["id"]) == 1
    time.sleep(0.1)  # the server has closed it; this process has not noticed yet
    event = publish_one()
    assert len(redis_calls) == 2, "the failed push was not followed by a wake-up that reads its answer"
    assert wait_for_effects([event]) == [1]
    later = publish_one()  # pushed again, on a new connection
    assert len(redis_calls) == 2
    assert wait_for_effects([later]) == [1]
    assert nudge_connections() not in ([], [nudge["id"]])


def newest_position_walks() -> int:
    """Calls, in this transaction, of the functions that walk the log down for its newest position."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions WHERE funcname = ANY(%s)",
            [["eventstore_newest_position", "eventstore_last_position_below"]],
        )
        return cursor.fetchone()[0]


def test_the_relay_s_poll_finds_a_commit_whose_wake_up_was_lost_without_walking_the_log():
    """Unwoken, at its poll, the relay probes past its checkpoint, planned over the newest
    partitions once, not the walk that plans each window it looks at (docs/benchmarks.md)."""
    runner = StreamRunner(poll_seconds=60)  # not started: its relay's rounds run in this thread
    try:
        assert runner._relay_round(True) is None  # woken: leads, nothing to send: waits for a wake-up
        first = publish_one()  # no runner is alive to wake: only the poll finds it
        with connection.cursor() as cursor:
            cursor.execute("SET track_functions = 'pl'")
        with transaction.atomic():
            assert newest_position_walks() == 0
            assert runner._relay_round(False) is None  # the poll finds the commit: relayed
            assert runner._relay.checkpoints[RELAY_CHECKPOINT].position == first.position
            assert runner._relay_round(False) is None  # caught up: the poll finds nothing
            assert runner._relay.checkpoints[RELAY_CHECKPOINT].position == first.position
            assert newest_position_walks() == 0
        assert get_redis().xlen(streams.partition_key(streams.partition_of(first.stream_id))) == 1
    finally:
        runner.redis.close()


def count_pushes(monkeypatch) -> list:
    """Count this process's pushes on its nudge connection, each still sent for real."""
    pushes = []
    real_push = relay_waker._nudge.push

    def counting_push(now):
        pushes.append(now)
        return real_push(now)

    monkeypatch.setattr(relay_waker._nudge, "push", counting_push)
    return pushes


def test_while_the_relay_reads_on_its_clock_commits_send_nothing_and_are_still_handled(monkeypatch):
    """Every commit here is handled because the relay went round on its clock, or (the last)
    because a push woke it: the runner polls only every 60 s."""
    relay_waker.reset()
    frozen = time.monotonic()
    monkeypatch.setattr(relay_waker, "clock", lambda: frozen)  # this process's wake-ups never lapse
    # Any rate paces the relay here, once a window has passed, and no rate unpaces it.
    monkeypatch.setattr(relay_pacing, "PACE_ABOVE_EVENTS_PER_SECOND", 0)
    monkeypatch.setattr(relay_pacing, "PACE_BELOW_EVENTS_PER_SECOND", -1)
    monkeypatch.setattr(relay_pacing, "GRACE_MARGIN_SECONDS", WAKE_WAIT_SECONDS)  # see the end
    kicks, pushes = count_wake_up_calls(monkeypatch), count_pushes(monkeypatch)
    runner = StreamRunner(poll_seconds=60)
    runner.start()
    try:
        time.sleep(relay_pacing.RATE_WINDOW_SECONDS)
        first = publish_one()  # wakes the runner (it is not paced yet); its round paces it
        assert wait_for_effects([first]) == [1]
        # The relay's round marks itself paced after it sent the entry: the effect may come first.
        deadline = time.monotonic() + WAKE_WAIT_SECONDS
        while not get_redis().exists(streams.relay_paced_key()) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert get_redis().exists(streams.relay_paced_key())
        second = publish_one()  # pushes, and its answer will say: paced
        assert wait_for_effects([second]) == [1]
        wait_for_answer = time.monotonic() + WAKE_WAIT_SECONDS
        while (
            not relay_waker._nudge._connection.can_read(timeout=0.05) and time.monotonic() < wait_for_answer
        ):
            pass
        third = publish_one()  # pushes, and reads that answer
        assert (len(kicks), len(pushes)) == (1, 2)
        later = [publish_one() for _ in range(5)]
        assert (len(kicks), len(pushes)) == (1, 2), "a commit woke a relay that reads on its clock"
        assert wait_for_effects([third, *later]) == [1] * 6

        # The rate falls: the relay tells writers first, then keeps its clock while one told
        # "paced" a moment ago may still trust it (here the margin is long, for a slow machine).
        monkeypatch.setattr(relay_pacing, "PACE_BELOW_EVENTS_PER_SECOND", float("inf"))
        monkeypatch.setattr(relay_pacing, "PACE_ABOVE_EVENTS_PER_SECOND", float("inf"))
        deadline = time.monotonic() + WAKE_WAIT_SECONDS
        while get_redis().exists(streams.relay_paced_key()) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not get_redis().exists(streams.relay_paced_key())
        trusting = publish_one()  # this process still believes the relay paced: sends nothing
        assert (len(kicks), len(pushes)) == (1, 2)
        assert wait_for_effects([trusting]) == [1]
        # Once it asks again, it is told to push, and its push wakes the relay.
        monkeypatch.setattr(relay_waker, "clock", time.monotonic)
        monkeypatch.setattr(relay_waker, "runner_woken_at", None)
        asking = publish_one()
        assert len(kicks) == 2
        assert wait_for_effects([asking]) == [1]
        assert relay_waker.runner_paced_until == 0.0
    finally:
        runner.stop()
    assert not get_redis().exists(streams.relay_paced_key())


def gaps_between_woken_rounds(monkeypatch, *, paced: bool, relay_elsewhere: bool = False) -> list[float]:
    """Seconds between the starts of one partition's woken rounds, for 16 commits 50 ms apart on it;
    each handled once. With `relay_elsewhere`, the relay leads in another runner."""
    rounds = defaultdict(list)
    real_run = StreamRunnerPartition.run

    def recording_run(self, *, full_check, **kwargs):
        if not full_check:
            rounds[self.held[0].partition].append(time.monotonic())
        return real_run(self, full_check=full_check, **kwargs)

    monkeypatch.setattr(StreamRunnerPartition, "run", recording_run)
    if paced:  # any rate paces the relay once a window has passed, and no rate unpaces it
        monkeypatch.setattr(relay_pacing, "PACE_ABOVE_EVENTS_PER_SECOND", 0)
        monkeypatch.setattr(relay_pacing, "PACE_BELOW_EVENTS_PER_SECOND", -1)
    stream_id = f"thing-{uuid.uuid4()}"
    partition = streams.partition_of(stream_id)
    runners = [StreamRunner(poll_seconds=60, partitions=[] if relay_elsewhere else None)]
    runners[0].start()
    try:
        time.sleep(relay_pacing.RATE_WINDOW_SECONDS)
        first = publish_one(stream_id=stream_id)  # relayed by the first runner: its round paces it
        if paced:  # the relay marks itself paced after that round: the effect may come first
            wait_for(lambda: get_redis().exists(streams.relay_paced_key()), **WAITING)
        if relay_elsewhere:
            # relayed by the first runner, which leads from here on
            wait_for(lambda: get_redis().xlen(streams.partition_key(partition)), **WAITING)
            runners.append(StreamRunner(poll_seconds=60, partitions=[partition]))
            runners[1].start()  # its relay finds the first one leading; its heartbeat reads the mode
            if paced:  # at its heartbeat, once a second
                wait_for(lambda: runners[1]._paced_key_seen, **WAITING)
        assert wait_for_effects([first]) == [1]
        assert bool(get_redis().exists(streams.relay_paced_key())) is paced
        rounds.clear()
        events = []
        for _ in range(16):
            events.append(publish_one(stream_id=stream_id))
            time.sleep(0.05)
        assert wait_for_effects(events) == [1] * 16
    finally:
        for runner in reversed(runners):
            runner.stop()
    started = rounds[partition]
    assert started, "the partition never read"
    return [later - earlier for earlier, later in itertools.pairwise(started)]


@pytest.mark.parametrize("relay_elsewhere", [False, True], ids=["its own relay", "another runner's relay"])
def test_while_the_relay_is_paced_a_partition_gathers_between_its_rounds(
    monkeypatch, settings, relay_elsewhere
):
    settings.STREAM_RUNNER_PACED_GATHER_SECONDS = 0.3  # long beside the commits' 50 ms
    gaps = gaps_between_woken_rounds(monkeypatch, paced=True, relay_elsewhere=relay_elsewhere)
    assert len(gaps) < 8  # 16 commits over 0.8 s: a round per 0.3 s, not per commit
    assert all(gap >= 0.29 for gap in gaps)  # noted a moment after the runner notes a round's start


@pytest.mark.parametrize(
    ("paced", "gather"), [(False, 0.3), (True, 0.0)], ids=["unpaced", "paced, gathering off"]
)
def test_unpaced_or_without_gathering_a_partition_reads_as_soon_as_the_relay_wakes_it(
    monkeypatch, settings, paced, gather
):
    settings.STREAM_RUNNER_PACED_GATHER_SECONDS = gather
    gaps = gaps_between_woken_rounds(monkeypatch, paced=paced, relay_elsewhere=True)
    assert len(gaps) >= 7
    assert min(gaps) < 0.3


def test_with_two_runners_every_commit_wakes_the_one_that_leads_the_relay():
    """A runner that does not lead leaves the wake list to the leader (the runners poll every 60 s)."""
    leader = StreamRunner(poll_seconds=60, partitions=[])
    leader.start()
    time.sleep(0.2)  # its first round takes the lead
    other = StreamRunner(poll_seconds=60)
    other.start()
    try:
        for _ in range(10):
            assert wait_for_effects([publish_one()]) == [1]
    finally:
        other.stop()
        leader.stop()
