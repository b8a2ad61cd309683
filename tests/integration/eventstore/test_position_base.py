"""The stored position base: caught up when the cluster's transaction ids are behind its log.

A log restored into another cluster is "behind" exactly when its newest
position is not below `base + (next xid << 20)`. Lowering the base here puts
this database in that state without a second cluster (tests/e2e/test_restore.py
does the real dump and restore). Every test puts the base back afterwards.
"""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection, transaction

from eventstore.bus import publish
from eventstore.reading import horizon, read_stream
from tests.db_sessions import open_session
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db(transaction=True)


def sql(statement: str, params=()) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone() if cursor.description else ()


def base() -> int:
    return sql("SELECT base FROM eventstore_position_base")[0]


def newest_position() -> int:
    return sql("SELECT eventstore_newest_position()")[0]


@pytest.fixture
def behind():
    """This database as a freshly restored log sees it: every new position would land below the newest."""
    with transaction.atomic():
        old = publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4()}", data={"label": "restored"})
    newest = newest_position()
    next_xid = sql("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")[0]
    sql("UPDATE eventstore_position_base SET base = %s", [newest - ((next_xid + 1000) << 20)])
    # Behind: this connection's next transaction would number its events below the log.
    assert (
        sql("SELECT base + (pg_current_xact_id()::text::bigint << 20) FROM eventstore_position_base")[0]
        < newest
    )
    connection.close()  # the next query opens a new connection, which checks the base
    try:
        yield old, newest
    finally:
        # Only ever raised, never lowered below what was used (0 on this database before).
        sql("UPDATE eventstore_position_base SET base = greatest(base, 0)")


def test_a_new_connection_catches_the_base_up_and_new_positions_land_above_the_log(behind):
    old, newest = behind
    with transaction.atomic():
        new_stream = publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4()}", data={"label": "new"})
    with transaction.atomic():
        # The old stream's head came from the "old cluster": no StreamOrderConflict now.
        continued = publish(THING_HAPPENED, stream_id=old.stream_id, data={"label": "continued"})
    assert newest < new_stream.position < continued.position
    assert [e.stream_version for e in read_stream(old.stream_id)] == [1, 2]
    assert horizon() > continued.position


def test_the_horizon_stays_gap_safe_in_the_new_base(behind):
    with transaction.atomic():
        sql("SELECT 1")  # a new connection: the base catches up
    caught_up = base()
    writer = open_session()
    try:
        xid = writer.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()[0]
        assert horizon() <= caught_up + (xid << 20)  # an open writer holds the horizon in the new base too
        with transaction.atomic():
            later = publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4()}", data={"label": "later"})
        assert horizon() < later.position
    finally:
        writer.rollback()
        writer.close()
    assert horizon() > later.position


def test_on_the_cluster_that_wrote_the_log_the_check_writes_nothing():
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4()}", data={"label": "here"})
    before = sql("SELECT base, xmin::text FROM eventstore_position_base")
    connection.close()
    sql("SELECT 1")  # a new connection runs the check
    assert sql("SELECT base, xmin::text FROM eventstore_position_base") == before  # row not rewritten


def test_connections_that_check_at_once_agree_on_one_base_and_all_land_above_the_log(behind):
    _old, newest = behind
    barrier = threading.Barrier(6)
    results: list[object] = []

    def run() -> None:
        try:
            barrier.wait()
            with transaction.atomic():  # its first query connects, and so checks
                event = publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4()}", data={"label": "racing"})
            results.append(event.position)
        except Exception as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(isinstance(p, int) and p > newest for p in results), results
    assert len(results) == 6


def test_a_connection_opened_before_the_log_arrived_catches_up_at_its_first_stream_order_conflict():
    """The safety net for a connection the check did not see (docs/deploy.md asks for none)."""
    from eventstore.commands import atomic_command

    stream_id = f"thing-{uuid.uuid4()}"
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "restored"})
    newest = newest_position()
    next_xid = sql("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")[0]
    sql("UPDATE eventstore_position_base SET base = %s", [newest - ((next_xid + 1000) << 20)])

    @atomic_command
    def continue_stream():
        return publish(THING_HAPPENED, stream_id=stream_id, data={"label": "continued"})

    try:
        continued = continue_stream()  # same connection: no new-connection check ran
        assert continued.position > newest
        assert continued.stream_version == 2
        assert horizon() > continued.position
    finally:
        sql("UPDATE eventstore_position_base SET base = greatest(base, 0)")


def test_commits_while_connections_check_never_move_the_base():
    """A commit that lands while a new connection checks is the writing cluster's own, not a restored log.

    Migration 0014's check took its bound (the next transaction's first
    position) in one snapshot and looked for positions at or above it in a
    later one: a transaction committed in between looked like a restored log,
    the base jumped, and a transaction still open under the old base had its
    events passed over by the relay (tests/e2e/test_scale_out.py lost scan
    requests that way). Writers commit without pause while other sessions run
    the check over and over; the base must not move.
    """
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4()}", data={"label": "before"})
    before = base()
    done = threading.Event()
    failures: list[Exception] = []
    checks = [0]

    def write() -> None:
        try:
            stream_id = f"thing-{uuid.uuid4()}"
            for n in range(150):
                with transaction.atomic():
                    publish(THING_HAPPENED, stream_id=stream_id, data={"label": f"w{n}"})
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    def check() -> None:
        try:
            with open_session(autocommit=True) as session:
                while not done.is_set():
                    session.execute("SELECT eventstore_catch_up_positions()")
                    checks[0] += 1
        except Exception as exc:
            failures.append(exc)

    checkers = [threading.Thread(target=check) for _ in range(2)]
    writers = [threading.Thread(target=write) for _ in range(3)]
    for thread in checkers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in checkers:
        thread.join()
    assert failures == []
    assert checks[0] > 100, checks  # the checks ran while the writers committed
    assert base() == before
