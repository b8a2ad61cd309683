"""The log's DEFAULT partition (migration 0013): no append fails for want of a range partition.

To put appends past every range partition without burning hundreds of
thousands of transaction ids, a test raises the stored position base (as
restoring a log would, migration 0006) on connections that are already open,
so no new connection's catch-up makes partitions first. The base is only ever
raised, so later tests' positions stay above every earlier one.
"""

from __future__ import annotations

import itertools
import threading
import uuid

import pytest
from django.db import connection, transaction

from eventstore import partitions, streams
from eventstore.bus import publish, publish_many
from eventstore.consumer import drain_subscriber_partition
from eventstore.reading import horizon, read_all, read_events_by_id, read_stream
from eventstore.redis import get_redis
from eventstore.relay import relay_pending
from tests.conftest import start_at_head, wait_until_followable
from tests.db_sessions import open_session
from tests.integration.eventstore.test_partitions import partition_of, plan, scanned_partitions
from tests.sample_events import THING_HAPPENED
from tests.testapp.handlers import effect_count

pytestmark = pytest.mark.django_db(transaction=True)
DEFAULT = "eventstore_event_default"
SUBSCRIBER = "test-recorder"


@pytest.fixture(autouse=True)
def few_partitions_ahead(settings):
    """Each jump leaves the partitions made ahead behind, empty: fewer of them keeps the log's
    partition count (and the locks an append's plan takes, one per partition) down for later tests."""
    settings.EVENTSTORE_PARTITIONS_AHEAD = 2


def next_position() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT base FROM eventstore_position_base)"
            " + (pg_snapshot_xmax(pg_current_snapshot())::text::bigint << 20)"
        )
        return cursor.fetchone()[0]


def jump_past_every_partition() -> int:
    """Raise the base so that the next transactions' positions lie past every range partition."""
    last_upper = partitions.partitions()[-1][2]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE eventstore_position_base SET base = base + %s", [last_upper - next_position() + (8 << 20)]
        )
    assert next_position() > last_upper
    return last_upper


def holder_of(positions: list[int]) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT tableoid::regclass::text FROM eventstore_event WHERE position = ANY(%s)",
            [positions],
        )
        return {row[0] for row in cursor.fetchall()}


def test_appends_past_every_partition_commit_and_are_read_followed_and_relayed_in_order(client, settings):
    settings.METRICS_TOKEN = "scrape-secret-123"
    get_redis().flushdb()
    head = start_at_head()
    bound = jump_past_every_partition()
    run = uuid.uuid4().hex[:8]
    written = []
    for n in range(3):
        for s in range(2):
            with transaction.atomic():
                written.append(
                    publish(THING_HAPPENED, stream_id=f"thing-{run}-{s}", data={"label": f"ok-{n}"})
                )
    with transaction.atomic():  # several events in one transaction
        written += publish_many(
            f"thing-{run}-0", [(THING_HAPPENED, {"label": f"batch-{i}"}) for i in range(3)]
        )
    positions = [e.position for e in written]
    assert positions == sorted(positions) and min(positions) > bound
    assert holder_of(positions) == {DEFAULT}
    assert partitions.rows_outside_partitions() == len(written)

    body = client.get("/health/").json()
    assert body["checks"]["log_default_partition_events"] == len(written)
    assert "log_default_partition_events" in body["degraded"]
    metrics = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-123").content.decode()
    assert f"platform_log_default_partition_events {float(len(written))}" in metrics

    assert [e.data["label"] for e in read_stream(f"thing-{run}-0")] == [
        "ok-0",
        "ok-1",
        "ok-2",
        "batch-0",
        "batch-1",
        "batch-2",
    ]
    assert [e.id for e in read_events_by_id([e.id for e in written])] == [e.id for e in written]
    wait_until_followable(positions[-1])
    assert [e.id for e in read_all(after=head, limit=100)] == [e.id for e in written]

    relay_pending()
    for partition in range(
        streams.partition_count()
    ):  # the recorder refuses a version before its predecessor
        drain_subscriber_partition(SUBSCRIBER, partition)
    assert [effect_count(e.id) for e in written] == [1] * len(written)

    # The next maintenance settles them into a range partition, from the old last bound on.
    partitions.ensure_ahead()
    assert partitions.rows_outside_partitions() == 0
    assert holder_of(positions) == {f"eventstore_event_from_{bound}"}
    made = partitions.partitions()
    assert all(later[1] == earlier[2] for earlier, later in itertools.pairwise(made))
    assert partitions.spans_ahead() >= 1
    assert [e.id for e in read_all(after=head, limit=100)] == [e.id for e in written]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {DEFAULT}")  # a new, empty default
        assert cursor.fetchone()[0] == 0
    with transaction.atomic():
        later = publish(THING_HAPPENED, stream_id=f"thing-{run}-0", data={"label": "later"})
    assert holder_of([later.position]) != {DEFAULT}
    assert "log_default_partition_events" not in client.get("/health/").json().get("degraded", [])


def test_reads_within_the_range_partitions_skip_the_default():
    jump_past_every_partition()
    with transaction.atomic():
        outside = publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4()}", data={"label": "outside"})
    partitions.ensure_ahead()
    with transaction.atomic():
        inside = publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4()}", data={"label": "inside"})
    follow = plan(
        "SELECT * FROM eventstore_event WHERE position > %s AND position < %s ORDER BY position LIMIT 10",
        [outside.position - 1, horizon()],
    )
    scanned = scanned_partitions(follow)
    assert partition_of(outside.position) in scanned and partition_of(inside.position) in scanned
    assert DEFAULT not in scanned
    by_id = plan(
        "SELECT e.* FROM eventstore_event_key k CROSS JOIN LATERAL ("
        "SELECT * FROM eventstore_event e WHERE e.position = k.position) e WHERE k.id = ANY(%s)",
        [[outside.id]],
    )
    assert scanned_partitions(by_id) == {partition_of(outside.position)}


def backend_waits_on_a_lock(pid: int) -> bool:
    watcher = open_session(autocommit=True)
    try:
        for _ in range(600):
            row = watcher.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]
            ).fetchone()
            if row and row[0] == "Lock":
                return True
            threading.Event().wait(0.01)
        return False
    finally:
        watcher.close()


def test_appends_while_the_default_settles_are_neither_lost_nor_doubled():
    """Writers append on while maintenance settles the default; one holds a transaction open across it.

    The holder appends into the default, then waits until the settling session
    is queued on the log's lock, appends again in the same transaction and
    commits; the other writers keep appending all along, queued behind it.
    """
    run = uuid.uuid4().hex[:8]
    writers = 4
    ready = threading.Barrier(writers + 2)
    settling_done = threading.Event()
    holder_appended = threading.Event()
    appended: dict[int, list] = {w: [] for w in range(writers)}
    held: list = []
    failures: list[BaseException] = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        settler_pid = cursor.fetchone()[0]

    def writer(index: int) -> None:
        try:
            connection.ensure_connection()  # opened (and its partitions checked) before the jump
            ready.wait(30)
            ready.wait(30)  # the base has jumped
            after_settling = 0
            while after_settling < 5:
                done = settling_done.is_set()
                with transaction.atomic():
                    appended[index].append(
                        publish(THING_HAPPENED, stream_id=f"thing-{run}-{index}", data={"label": "w"})
                    )
                after_settling += done
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    def holder() -> None:
        try:
            connection.ensure_connection()
            ready.wait(30)
            ready.wait(30)
            with transaction.atomic():
                held.append(publish(THING_HAPPENED, stream_id=f"thing-{run}-held", data={"label": "first"}))
                holder_appended.set()
                assert backend_waits_on_a_lock(settler_pid), (
                    "the settling never queued behind this transaction"
                )
                held.append(publish(THING_HAPPENED, stream_id=f"thing-{run}-held", data={"label": "second"}))
        except BaseException as exc:
            failures.append(exc)
            holder_appended.set()
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    threads.append(threading.Thread(target=holder))
    for thread in threads:
        thread.start()
    ready.wait(30)
    bound = jump_past_every_partition()
    ready.wait(30)
    assert holder_appended.wait(30)
    partitions.ensure_ahead()  # waits for the holder, then settles; the writers queue behind it
    settling_done.set()
    for thread in threads:
        thread.join(120)
    assert failures == []

    assert partitions.rows_outside_partitions() == 0
    mine = [e for events in appended.values() for e in events] + held
    settled = f"eventstore_event_from_{bound}"
    assert settled in holder_of(
        [e.position for e in held]
    )  # caught by the default, now in its range partition
    assert len({e.position for e in mine}) == len(mine)
    for index in range(writers):
        stream = [e.id for e in read_stream(f"thing-{run}-{index}")]
        assert stream == [e.id for e in appended[index]]  # each once, in the order appended
        positions = [e.position for e in appended[index]]
        assert positions == sorted(positions)
    assert [e.data["label"] for e in read_stream(f"thing-{run}-held")] == ["first", "second"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM eventstore_event_key WHERE stream_id LIKE %s", [f"thing-{run}-%"]
        )
        assert cursor.fetchone()[0] == len(mine)
    newest = max(e.position for e in mine)
    wait_until_followable(newest)
    followed = [
        e.id for e in read_all(after=min(e.position for e in mine) - 1, limit=10_000) if e.position <= newest
    ]
    assert sorted(set(followed) & {e.id for e in mine}, key=followed.index) == [
        e.id for e in sorted(mine, key=lambda e: e.position)
    ]
