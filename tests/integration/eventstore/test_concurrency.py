"""Guarantees 3 and 5 under real concurrency: threads, each with its own connection."""

import random
import threading
import time
import uuid

import pytest
from django.db import connection, transaction

from eventstore.bus import publish
from eventstore.commands import atomic_command
from eventstore.errors import ConcurrencyConflict, StreamOrderConflict
from eventstore.reading import read_all, read_stream
from tests.conftest import wait_until_followable
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db(transaction=True)


def run_threads(count: int, target) -> list:
    results: list = [None] * count
    errors: list = []

    def run(index: int) -> None:
        try:
            results[index] = target(index)
        except Exception as exc:  # collected and re-raised in the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def test_of_writers_expecting_the_same_version_exactly_one_wins_each_round():
    stream_id = f"thing-{uuid.uuid4()}"
    writers, rounds = 8, 6
    barrier = threading.Barrier(writers)

    def writer(index: int) -> list[int]:
        won = []
        for round_number in range(rounds):
            barrier.wait()
            try:
                with transaction.atomic():
                    publish(
                        THING_HAPPENED,
                        stream_id=stream_id,
                        data={"label": f"w{index}r{round_number}"},
                        expected_version=round_number,
                    )
                won.append(round_number)
            except ConcurrencyConflict:
                pass
            barrier.wait()  # everyone has tried this round before the next starts
        return won

    wins = run_threads(writers, writer)
    rounds_won = sorted(r for won in wins for r in won)
    assert rounds_won == list(range(rounds)), "exactly one winner per expected version"
    assert [e.stream_version for e in read_stream(stream_id)] == list(range(1, rounds + 1))


def test_a_transaction_that_started_earlier_cannot_append_behind_a_later_one():
    stream_id = f"thing-{uuid.uuid4()}"
    early_has_xid = threading.Event()
    late_committed = threading.Event()

    def early(_index):
        with pytest.raises(StreamOrderConflict), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_current_xact_id()")  # take a transaction id now
            early_has_xid.set()
            late_committed.wait(30)
            publish(THING_HAPPENED, stream_id=stream_id, data={"label": "early"})

    def late(_index):
        early_has_xid.wait(30)
        with transaction.atomic():
            publish(THING_HAPPENED, stream_id=stream_id, data={"label": "late"})
        late_committed.set()

    run_threads(2, lambda i: (early, late)[i](i))
    events = read_stream(stream_id)
    assert [e.data["label"] for e in events] == ["late"]


def test_atomic_command_reruns_a_stream_order_conflict_in_a_new_transaction():
    stream_id = f"thing-{uuid.uuid4()}"
    attempts = []
    late_committed = threading.Event()
    early_has_xid = threading.Event()

    @atomic_command
    def early_command():
        attempts.append(1)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()")
        early_has_xid.set()
        late_committed.wait(30)
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": f"early-{len(attempts)}"})

    def late():
        early_has_xid.wait(30)
        with transaction.atomic():
            publish(THING_HAPPENED, stream_id=stream_id, data={"label": "late"})
        late_committed.set()

    run_threads(2, lambda i: early_command() if i == 0 else late())
    events = read_stream(stream_id)
    assert [e.data["label"] for e in events] == ["late", "early-2"]
    assert events[0].position < events[1].position
    assert len(attempts) == 2


def test_follower_sees_every_committed_event_once_while_transactions_overlap():
    """Writers hold transactions open at random while a follower polls by position."""
    run = uuid.uuid4().hex[:12]
    writers, per_writer = 6, 15
    done = threading.Event()
    committed: set[str] = set()
    committed_lock = threading.Lock()

    def writer(index: int) -> None:
        rng = random.Random(index)
        for n in range(per_writer):
            label = f"{run}-{index}-{n}"
            rollback = rng.random() < 0.15
            try:
                with transaction.atomic():
                    publish(THING_HAPPENED, stream_id=f"thing-{run}-{index % 3}", data={"label": label})
                    time.sleep(rng.choice([0, 0, 0.001, 0.02, 0.08]))  # some held open deliberately
                    if rollback:
                        raise RuntimeError("roll back")
            except RuntimeError:
                continue
            except ConcurrencyConflict:
                continue
            with committed_lock:
                committed.add(label)

    seen: list[str] = []
    positions: list[int] = []

    def follower() -> None:
        checkpoint = 0
        # After the writers finish, poll until the log is drained (a transaction
        # elsewhere in the cluster may hold the horizon back for a moment).
        deadline = None
        while deadline is None or time.monotonic() < deadline:
            batch = read_all(after=checkpoint, limit=50, types=[THING_HAPPENED.name])
            for event in batch:
                positions.append(event.position)
                if event.data["label"].startswith(run):
                    seen.append(event.data["label"])
            if batch:
                checkpoint = batch[-1].position
            elif done.is_set():
                deadline = deadline or time.monotonic() + 10
                with committed_lock:
                    if set(seen) >= committed:
                        break
            time.sleep(0.002)

    follower_thread = threading.Thread(target=lambda: (follower(), connection.close()))
    follower_thread.start()
    run_threads(writers, writer)
    done.set()
    follower_thread.join(timeout=120)

    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert sorted(seen) == sorted(committed), "every committed event exactly once, no rolled-back one"
    assert len(seen) == len(set(seen))


def test_follower_does_not_skip_an_event_that_commits_after_a_later_position():
    run = uuid.uuid4().hex[:12]
    first_appended = threading.Event()
    release_first = threading.Event()

    def slow_writer():
        with transaction.atomic():
            publish(THING_HAPPENED, stream_id=f"thing-{run}-slow", data={"label": f"{run}-slow"})
            first_appended.set()
            release_first.wait(30)

    slow = threading.Thread(target=lambda: (slow_writer(), connection.close()))
    slow.start()
    first_appended.wait(30)
    with transaction.atomic():
        fast = publish(THING_HAPPENED, stream_id=f"thing-{run}-fast", data={"label": f"{run}-fast"})

    # The fast event is committed, but the slow one (earlier position) is still open.
    mine = [
        e
        for e in read_all(after=0, limit=100000, types=[THING_HAPPENED.name])
        if e.data["label"].startswith(run)
    ]
    assert mine == [], "nothing past an open transaction's position is readable yet"
    release_first.set()
    slow.join(30)
    wait_until_followable(fast.position)
    mine = [
        e
        for e in read_all(after=0, limit=100000, types=[THING_HAPPENED.name])
        if e.data["label"].startswith(run)
    ]
    assert [e.data["label"] for e in mine] == [f"{run}-slow", f"{run}-fast"]
    assert mine[1].position == fast.position
