"""The partitioned log (migration 0010): partitions made ahead, plans pruned, keys global.

The test settings make a partition 16,384 transactions wide, so a test puts
two transactions on either side of a bound by burning transaction ids in
between (`cross_a_partition_bound`). Without the key table, the clashes below
would land in two partitions and both writers would succeed.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid

import orjson
import pytest
from django.conf import settings
from django.db import connection, connections, transaction

from eventstore import partitions
from eventstore.bus import publish
from eventstore.errors import ConcurrencyConflict, EventIdConflict
from eventstore.reading import horizon, read_events_by_id, read_stream
from eventstore.store.statements import POSITION_SHIFT
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db(transaction=True)


def partition_of(position: int) -> str:
    for name, lower, upper in partitions.partitions():
        if (lower is None or lower <= position) and position < upper:
            return name
    raise AssertionError(f"no partition holds {position}")


def next_position() -> int:
    """The first position the next transaction to start would take."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT base FROM eventstore_position_base)"
            f" + (pg_snapshot_xmax(pg_current_snapshot())::text::bigint << {POSITION_SHIFT})"
        )
        return cursor.fetchone()[0]


def cross_a_partition_bound(position: int) -> None:
    """Burn transaction ids, on a connection of its own, until new ones land above `position`'s partition."""
    (upper,) = [
        u for _n, lower, u in partitions.partitions() if (lower is None or lower <= position) and position < u
    ]
    burner = connections.create_connection("default")
    try:
        with burner.cursor() as cursor:
            while True:
                cursor.execute(
                    "SELECT (SELECT base FROM eventstore_position_base)"
                    f" + (pg_current_xact_id()::text::bigint << {POSITION_SHIFT})"
                )
                if cursor.fetchone()[0] >= upper:
                    return
    finally:
        burner.close()


def plan(sql: str, params: list) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON, COSTS OFF, TIMING OFF) {sql}", params)
        found = cursor.fetchone()[0]
    return (orjson.loads(found) if isinstance(found, str | bytes) else found)[0]["Plan"]


def scanned_partitions(node: dict) -> set[str]:
    """The partitions of the log a plan actually ran a scan on (pruned ones are not in the plan, or never ran)."""
    found = set()
    name = node.get("Relation Name", "")
    if (
        name.startswith("eventstore_event_")
        and name != "eventstore_event_key"
        and node.get("Actual Loops", 1) > 0
    ):
        found.add(name)
    for child in node.get("Plans", []):
        found |= scanned_partitions(child)
    return found


def test_partitions_are_made_ahead_of_the_positions_being_taken():
    span = settings.EVENTSTORE_PARTITION_TRANSACTIONS << POSITION_SHIFT
    partitions.ensure_ahead()
    made = partitions.partitions()
    assert made[-1][2] >= next_position() + span * settings.EVENTSTORE_PARTITIONS_AHEAD
    # Contiguous: each partition begins where the one before ends.
    assert all(later[1] == earlier[2] for earlier, later in itertools.pairwise(made))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT eventstore_ensure_partitions(%s, %s)", [span, settings.EVENTSTORE_PARTITIONS_AHEAD]
        )
        assert cursor.fetchone()[0] == 0  # enough already: nothing made
        cursor.execute(
            "SELECT eventstore_ensure_partitions(%s, %s)", [span, settings.EVENTSTORE_PARTITIONS_AHEAD + 2]
        )
        assert cursor.fetchone()[0] == 2
    assert len(partitions.partitions()) == len(made) + 2


def partition_head() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT upper_bound FROM eventstore_partition_head")
        return cursor.fetchone()[0]


def test_the_partition_check_keeps_its_head_and_recovers_a_head_left_behind():
    partitions.ensure_ahead()
    made = partitions.partitions()
    assert partition_head() == made[-1][2]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE eventstore_partition_head SET upper_bound = 0")
    partitions.ensure_ahead()  # the head says too few: the catalog decides, nothing made twice
    now = partitions.partitions()
    assert now[: len(made)] == made
    assert all(later[1] == earlier[2] for earlier, later in itertools.pairwise(now))
    assert partition_head() == now[-1][2]


def test_every_partition_refuses_truncate_and_changes():
    partitions.ensure_ahead()
    name = partitions.partitions()[-1][0]
    with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {name}")


def test_the_main_reads_prune_to_the_partitions_that_hold_their_events():
    stream = f"thing-{uuid.uuid4()}"
    with transaction.atomic():
        first = publish(THING_HAPPENED, stream_id=stream, data={"label": "one"})
    cross_a_partition_bound(first.position)
    with transaction.atomic():
        second = publish(THING_HAPPENED, stream_id=stream, data={"label": "two"})
    assert partition_of(first.position) != partition_of(second.position)
    live = len(partitions.partitions())
    assert live > 3

    follow = plan(
        "SELECT * FROM eventstore_event WHERE position > %s AND position < %s ORDER BY position LIMIT 10",
        [second.position - 1, horizon()],
    )
    scanned = scanned_partitions(follow)
    assert partition_of(second.position) in scanned and partition_of(first.position) not in scanned
    assert len(scanned) < live

    # Reads by id and by stream take their positions from the key table first, as values (migration 0014).
    by_id = plan("SELECT * FROM eventstore_event WHERE position = ANY(%s)", [[first.position]])
    assert scanned_partitions(by_id) == {partition_of(first.position)}

    # read_stream: the stream's positions from its keys, then the events by position, as values.
    stream_read = plan(
        "SELECT * FROM eventstore_event WHERE position = ANY(%s) ORDER BY stream_version",
        [[second.position]],
    )
    assert scanned_partitions(stream_read) == {partition_of(second.position)}
    assert [e.data["label"] for e in read_stream(stream)] == ["one", "two"]
    assert [e.position for e in read_events_by_id([second.id, first.id])] == [second.position, first.position]


def test_one_event_id_twice_across_partitions_is_stored_once():
    event_id = uuid.uuid4()
    stream, other = f"thing-{uuid.uuid4()}", f"thing-{uuid.uuid4()}"
    with transaction.atomic():
        stored = publish(THING_HAPPENED, stream_id=stream, data={"label": "here"}, event_id=event_id)
    cross_a_partition_bound(stored.position)
    assert partition_of(next_position()) != partition_of(stored.position)
    with pytest.raises(EventIdConflict, match="stored in stream"), transaction.atomic():
        publish(THING_HAPPENED, stream_id=other, data={"label": "here"}, event_id=event_id)
    with transaction.atomic():
        again = publish(THING_HAPPENED, stream_id=stream, data={"label": "here"}, event_id=event_id)
    assert again.position == stored.position
    assert read_stream(other) == []
    assert [e.id for e in read_stream(stream)] == [event_id]


def test_two_writers_of_one_version_on_either_side_of_a_bound_one_conflicts():
    stream = f"thing-{uuid.uuid4()}"
    outcome: dict = {}
    started = threading.Event()

    def second_writer() -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(f"SELECT pg_backend_pid(), {next_position_sql()}")
                    outcome["pid"], outcome["position"] = cursor.fetchone()
                started.set()
                publish(THING_HAPPENED, stream_id=stream, data={"label": "second"}, expected_version=0)
            outcome["result"] = "won"
        except ConcurrencyConflict:
            outcome["result"] = "conflict"
        finally:
            started.set()
            connection.close()

    with transaction.atomic():
        first = publish(THING_HAPPENED, stream_id=stream, data={"label": "first"}, expected_version=0)
        cross_a_partition_bound(first.position)
        thread = threading.Thread(target=second_writer)
        thread.start()
        started.wait(30)
        assert wait_until_waiting_on_a_lock(outcome["pid"])  # its statement does not see the first's event
    thread.join(60)
    assert partition_of(outcome["position"]) != partition_of(first.position)
    assert outcome["result"] == "conflict"
    assert [e.data["label"] for e in read_stream(stream)] == ["first"]


def next_position_sql() -> str:
    return f"(SELECT base FROM eventstore_position_base) + (pg_current_xact_id()::text::bigint << {POSITION_SHIFT})"


def wait_until_waiting_on_a_lock(pid: int) -> bool:
    watcher = connections.create_connection("default")
    try:
        with watcher.cursor() as cursor:
            for _ in range(300):
                cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
                row = cursor.fetchone()
                if row and row[0] == "Lock":
                    return True
                time.sleep(0.05)
        return False
    finally:
        watcher.close()


def test_health_says_degraded_when_fewer_than_one_partition_is_ahead(client, settings):
    partitions.ensure_ahead()
    body = client.get("/health/").json()
    assert body["checks"]["log_partitions_ahead"] >= 1
    assert "log_partitions_ahead" not in body.get("degraded", [])
    # Spans this wide make the partitions already made less than one span ahead.
    settings.EVENTSTORE_PARTITION_TRANSACTIONS = settings.EVENTSTORE_PARTITION_TRANSACTIONS * 1000
    body = client.get("/health/").json()
    assert body["checks"]["log_partitions_ahead"] < 1
    assert body["status"] == "degraded" and "log_partitions_ahead" in body["degraded"]
