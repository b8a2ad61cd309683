"""The log's hot statements lock only the partitions they need, however many are attached (migration 0014).

Postgres 15 locks every partition (and each of its indexes) that a plan
covers, even those pruned at run time; the server's lock table is shared and
fixed in size. So each test grows the log by partitions that each hold an
event, as a long-lived log looks, and checks that the statement holds as many
relation locks of the log after the growth as before, and only a few
partitions' worth. The test settings make partitions 16,384 transactions wide;
the log grows by raising the position base one span at a time (as a log
restored from another cluster raises it), not by burning transaction ids.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import threading
import uuid

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from eventstore import delivery_ledger, partitions, positions, relay, shadow_build, streams
from eventstore.admin import EventAdmin
from eventstore.admin_bounds import COUNT_LIMIT
from eventstore.bus import publish
from eventstore.consumer import drain_subscriber_partition
from eventstore.context import event_context
from eventstore.models import Event
from eventstore.monitoring import default_partition_events, head_position
from eventstore.reading import follow, follow_in_windows, horizon, read_all, read_events_by_id, read_stream
from eventstore.redis import get_redis
from eventstore.relay import relay_pending
from eventstore.selectors import search_positions
from tests.conftest import start_at_head, wait_until_followable
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db(transaction=True)

# A partition and its five indexes (its primary key and four reader indexes since migration 0015).
RELATIONS_PER_PARTITION = 6
GROWTH = 24


def log_relations() -> list[int]:
    """The oids of the log, its partitions and all their indexes (read in a transaction of its own)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH tree AS (SELECT relid FROM pg_partition_tree('eventstore_event'))"
            " SELECT relid::oid FROM tree UNION ALL"
            " SELECT x.indexrelid FROM pg_index x WHERE x.indrelid IN (SELECT relid FROM tree)"
        )
        return [row[0] for row in cursor.fetchall()]


def locks_held(work) -> int:
    """Relation locks on the log that this connection holds right after `work()`, in one transaction."""
    relations = log_relations()
    with transaction.atomic():
        work()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation'"
                " AND relation = ANY(%s::oid[])",
                [relations],
            )
            return cursor.fetchone()[0]


def most_partitions_planned(work) -> int:
    """The most partitions of the log that any one statement `work()` sends is planned over.

    For work of several statements, each in a transaction of its own (whose locks
    go when it ends): each statement that reads the log is EXPLAINed again as sent.
    """
    with CaptureQueriesContext(connection) as captured:
        work()
    reads = [
        q["sql"] for q in captured.captured_queries if re.search(r"\bFROM \"?eventstore_event\b", q["sql"])
    ]
    assert reads
    most = 0
    with connection.cursor() as cursor:
        for sql in reads:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            planned = re.findall(
                r'"Relation Name": "(eventstore_event_(?!key)[^"]+)"', json.dumps(cursor.fetchone()[0])
            )
            most = max(most, len(set(planned)))
    return most


def append(stream: str | None = None):
    return publish(THING_HAPPENED, stream_id=stream or f"thing-{uuid.uuid4()}", data={"label": "x"})


def grow(count: int) -> None:
    """Attach `count` more partitions to the log, each holding one event."""
    span = partitions.span()
    for _ in range(count):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE eventstore_position_base SET base = base + %s", [span])
        partitions.ensure_ahead()
        with transaction.atomic():
            append()
    partitions.ensure_ahead()


def attached() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'eventstore_event'::regclass")
        return cursor.fetchone()[0]


def assert_flat(work, *, most_partitions: int) -> None:
    """`work` holds the same locks before and after the log grows, and at most `most_partitions`' worth."""
    grow(2)
    before, partitions_before = locks_held(work), attached()
    grow(GROWTH)
    after = locks_held(work)
    assert attached() >= partitions_before + GROWTH
    # A probe may end one partition further or nearer (where the horizon or the newest event lies
    # decides it), so the counts may differ by one partition's relations; growing with the log,
    # they would differ by GROWTH partitions' worth.
    assert abs(after - before) <= RELATIONS_PER_PARTITION, (
        f"{before} relation locks with {partitions_before} partitions, {after} after growing"
    )
    assert after <= most_partitions * RELATIONS_PER_PARTITION + 1


# The partition of the next transaction's position, those made ahead of it (all empty) and the
# default: what a probe at or above that position must plan over.
AHEAD = settings.EVENTSTORE_PARTITIONS_AHEAD + 2


def test_the_position_catch_up_locks_the_partitions_made_ahead_only():
    assert_flat(lambda: positions.catch_up(connection), most_partitions=AHEAD)


def newest_position() -> int:
    """eventstore_newest_position(): what the append's refusal (eventstore.store.refusal) compares."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT eventstore_newest_position()")
        return cursor.fetchone()[0]


def test_the_newest_position_is_found_in_the_newest_partitions():
    assert_flat(newest_position, most_partitions=AHEAD + 2)


def test_the_relay_batch_and_the_stream_runner_poll_probe_only_the_newest_partitions():
    # The batch's probe past the horizon (held back?); the runner's poll past a caught-up checkpoint.
    assert_flat(lambda: relay.events_from(horizon()), most_partitions=AHEAD + 2)
    assert_flat(lambda: relay.events_from(newest_position() + 1), most_partitions=AHEAD + 2)


def test_the_relay_batch_read_is_planned_with_its_bounds_however_often_it_ran():
    """Never a prepared statement: after five runs Postgres may keep its generic plan, which locks
    every partition (seen on a 240-partition log: 637 locks for a read of one partition)."""
    grow(GROWTH)
    with transaction.atomic():
        newest = append().position
    wait_until_followable(newest)
    for _ in range(8):
        with transaction.atomic():
            relay._read_envelopes(0, horizon(), 10)
    locks = locks_held(lambda: relay._read_envelopes(newest - 1, horizon(), 10))
    assert locks <= 3 * RELATIONS_PER_PARTITION + 1, f"{locks} locks with {attached()} partitions"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%json_build_object%"]
        )
        assert cursor.fetchone()[0] == 0


def test_the_newest_position_is_the_log_maximum():
    grow(3)
    with transaction.atomic():
        stored = append()
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(position) FROM eventstore_event")
        maximum = cursor.fetchone()[0]
    assert newest_position() == maximum == stored.position


def test_an_append_after_the_first_of_its_transaction_locks_its_own_partition():
    stream = f"thing-{uuid.uuid4()}"

    def two_appends():
        append(stream)
        append(stream)  # reads the positions its transaction took so far

    assert_flat(two_appends, most_partitions=2)
    with transaction.atomic():
        first, second = append(), append()
    assert second.position == first.position + 1


def test_reads_by_stream_and_by_id_lock_the_partitions_of_their_events():
    stream = f"thing-{uuid.uuid4()}"
    with transaction.atomic():
        first = append(stream)
    grow(2)
    with transaction.atomic():
        second = append(stream)
    assert [e.id for e in read_stream(stream)] == [first.id, second.id]
    assert [e.id for e in read_stream(stream, after_version=1)] == [second.id]
    assert [e.id for e in read_events_by_id([second.id, first.id])] == [second.id, first.id]

    def reads():
        read_stream(stream, after_version=1)
        read_events_by_id([second.id])

    assert_flat(reads, most_partitions=1)


def test_health_figures_lock_a_few_partitions():
    assert_flat(head_position, most_partitions=2)
    assert_flat(default_partition_events, most_partitions=1)
    with transaction.atomic():
        stored = append()
    wait_until_followable(stored.position)
    assert head_position() >= stored.position


def test_each_replay_batch_is_planned_over_the_partitions_of_its_window(monkeypatch):
    monkeypatch.setattr(shadow_build, "WINDOW_PARTITIONS", 4)  # windows smaller than this test's log
    grow(GROWTH)
    with CaptureQueriesContext(connection) as captured:
        call_command(
            "replay_events",
            "--no-input",
            "--projection",
            "eventstore.event_stats",
            stdout=io.StringIO(),
        )
    # Each batch's read of the log: follow()'s cursor, or the events a projection's own SQL
    # counts on the server (Projection.apply_stored_sql, as the event statistics do).
    reads = [
        re.sub(r"^DECLARE \w+ NO SCROLL CURSOR FOR ", "", q["sql"])
        for q in captured.captured_queries
        if q["sql"].startswith("DECLARE eventstore_follow")
    ] + [
        m.group(1)
        for q in captured.captured_queries
        if (
            m := re.match(
                r"WITH events AS MATERIALIZED \((SELECT .*? LIMIT \d+)\), applied AS", q["sql"], re.S
            )
        )
    ]
    assert len(reads) > 3  # windows of the log, not one read bounded by the horizon alone
    most = 0
    with connection.cursor() as cursor:
        for sql in reads:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            most = max(
                most,
                len(
                    set(
                        re.findall(
                            r'"Relation Name": "(eventstore_event_[^"]+)"', json.dumps(cursor.fetchone()[0])
                        )
                    )
                ),
            )
    assert 1 <= most <= 4 + 1  # its window, and the default when the read reaches the horizon
    assert attached() > 3 * GROWTH // 2


def test_the_replay_count_locks_one_partition_per_statement():
    grow(4)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM eventstore_event")
        expected = cursor.fetchone()[0]
    with CaptureQueriesContext(connection) as captured:
        assert partitions.count_events() == expected
    assert len(captured.captured_queries) > attached() // 2


def test_the_partition_list_locks_no_partition():
    """The windowed reads start from the catalog's bounds: a read of the catalog, no lock on the log."""
    grow(GROWTH)
    listed = partitions.partitions()
    assert len(listed) >= GROWTH
    assert locks_held(partitions.partitions) == 0


def test_windows_cover_the_range_in_whole_partitions():
    grow(6)
    listed = partitions.partitions()
    ends = [upper - 1 for _name, _lower, upper in listed]
    after, through = ends[-7] - 5, ends[-1] + 100  # from inside a partition to past the last one
    windows = partitions.position_windows(after, through, most=2)
    assert windows[0][0] == after and windows[-1][1] == through
    assert all(low < high for low, high in windows)
    assert all(earlier[1] == later[0] for earlier, later in itertools.pairwise(windows))
    assert [high for _low, high in windows[:-1]] == ends[-6:-1:2]
    assert partitions.position_windows(5, 5) == []


VERIFIED_SUBSCRIBER = "test-recorder"
WINDOW = 4  # partitions per windowed read in these tests: fewer than their logs hold


def deliver_to_the_recorder() -> None:
    relay_pending()
    for partition in range(streams.partition_count()):
        drain_subscriber_partition(VERIFIED_SUBSCRIBER, partition)


def test_the_delivery_check_reads_the_log_a_window_of_partitions_per_statement(monkeypatch):
    monkeypatch.setattr(partitions, "READ_WINDOW_PARTITIONS", WINDOW)
    get_redis().flushdb()
    start_at_head()

    def verified():
        with transaction.atomic():
            newest = append()
        wait_until_followable(newest.position)
        deliver_to_the_recorder()
        reports = []
        planned = most_partitions_planned(
            lambda: reports.extend(delivery_ledger.verify([VERIFIED_SUBSCRIBER]))
        )
        return planned, reports[0]

    grow(2)
    before, found = verified()
    grow(GROWTH)
    after, found_after = verified()
    assert found.ok and found_after.ok
    # Every event the growth appended was checked (one per partition, and the one appended above).
    assert found_after.checked_events >= found.checked_events + GROWTH + 1
    assert before <= WINDOW + 1 and after <= WINDOW + 1, (before, after)


def test_an_admin_search_reads_the_log_a_window_of_partitions_per_statement(monkeypatch, make_user):
    monkeypatch.setattr(partitions, "READ_WINDOW_PARTITIONS", WINDOW)
    correlation = uuid.uuid4()
    stream = f"thing-{uuid.uuid4()}"

    def search():
        with transaction.atomic(), event_context(correlation_id=correlation):
            append(stream)
        return most_partitions_planned(lambda: search_positions(str(correlation), limit=100))

    grow(2)
    before = search()
    grow(GROWTH)
    after = search()
    assert before <= WINDOW + 1 and after <= WINDOW + 1, (before, after)
    found = search_positions(str(correlation), limit=100)
    assert len(found) == 2 and found == sorted(found, reverse=True)
    assert search_positions(stream, limit=1) == found[:1]

    staff = Client()
    staff.force_login(make_user(is_staff=True, is_superuser=True))
    for term in (str(correlation), stream):
        page = staff.get("/admin/eventstore/event/", {"q": term})
        assert [e.position for e in page.context["cl"].result_list] == found
    page_reads = most_partitions_planned(lambda: staff.get("/admin/eventstore/event/", {"q": stream}))
    assert page_reads <= WINDOW + 1  # and the change list's own reads, by the positions found


def staff_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user(is_staff=True, is_superuser=True))
    return client


def newest_positions(count: int, **filters) -> list[int]:
    return list(
        Event.objects.filter(**filters).order_by("-position").values_list("position", flat=True)[:count]
    )


def test_the_admin_event_list_reads_the_log_a_window_of_partitions_per_statement(monkeypatch, make_user):
    monkeypatch.setattr(partitions, "READ_WINDOW_PARTITIONS", WINDOW)
    monkeypatch.setattr(EventAdmin, "list_per_page", 2)  # pages, as on a long log
    staff = staff_client(make_user)
    listings = [{}, {"p": "2"}, {"type": "test:thing_happened"}, {"o": "0"}]  # o=0: oldest first

    def listed() -> int:
        return max(
            most_partitions_planned(lambda params=params: staff.get("/admin/eventstore/event/", params))
            for params in listings
        )

    grow(2)
    before = listed()
    grow(GROWTH)
    after = listed()
    assert before <= WINDOW + 1 and after <= WINDOW + 1, (before, after)

    # The pages, their order and the count are the log's, newest first, as one read of it gives them.
    newest = newest_positions(4)
    for params, expected in [({}, newest[:2]), ({"p": "2"}, newest[2:4])]:
        page = staff.get("/admin/eventstore/event/", params).context["cl"]
        assert [e.position for e in page.result_list] == expected
        assert page.result_count == min(Event.objects.count(), COUNT_LIMIT)
    oldest = staff.get("/admin/eventstore/event/", {"o": "0"}).context["cl"]
    assert [e.position for e in oldest.result_list] == sorted(
        Event.objects.values_list("position", flat=True)
    )[:2]


def log_reads(work) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        work()
    return [
        q["sql"] for q in captured.captured_queries if re.search(r"\bFROM \"?eventstore_event\b", q["sql"])
    ]


@pytest.mark.parametrize("params", [{"o": "2"}, {"o": "-5"}, {"o": "0.1"}, {"o": "x"}, {"_facets": "True"}])
def test_the_admin_event_list_refuses_a_sort_or_counts_over_the_whole_log(params, make_user):
    """Sorted by another column than position, or with a count per filter value, Django reads
    every partition of the log; the list refuses, with the reason, before reading the log."""
    staff = staff_client(make_user)
    with transaction.atomic():
        append()
    responses = []
    reads = log_reads(lambda: responses.append(staff.get("/admin/eventstore/event/", params)))
    assert responses[0].status_code == 400
    assert "whole log" in responses[0].content.decode()
    assert reads == []


def test_the_admin_event_list_offers_position_order_only_and_no_filter_counts(make_user):
    staff = staff_client(make_user)
    with transaction.atomic():
        append()
    for params in ({"o": "0"}, {"o": "-0"}, {"o": ""}, {"type": "test:thing_happened", "o": "0"}):
        assert staff.get("/admin/eventstore/event/", params).status_code == 200
    page = staff.get("/admin/eventstore/event/").content.decode()
    sort_links = set(re.findall(r'href="\?[^"]*\bo=([^"&]*)', page))
    assert sort_links and all(link.removeprefix("-") in ("0", "") for link in sort_links), sort_links
    assert "_facets" not in page  # no "Show counts" link


def test_the_explorer_stream_filter_reads_the_events_at_the_streams_positions(make_user):
    stream = f"thing-{uuid.uuid4()}"
    staff = staff_client(make_user)

    def filtered() -> int:
        with transaction.atomic():
            append(stream)
        return most_partitions_planned(lambda: staff.get("/explorer/", {"stream_id": stream}))

    grow(2)
    before = filtered()
    grow(GROWTH)
    after = filtered()
    assert before <= 2 and after <= 2, (before, after)  # the partitions of the stream's two events
    page = staff.get("/explorer/", {"stream_id": stream}).context["events"]
    assert [e.position for e in page] == newest_positions(2, stream_id=stream)


def test_an_api_read_by_correlation_id_reads_the_log_a_window_of_partitions_per_statement(
    monkeypatch, make_user
):
    monkeypatch.setattr(partitions, "READ_WINDOW_PARTITIONS", WINDOW)
    correlation = uuid.uuid4()
    staff = staff_client(make_user)
    url = f"/api/events/correlation/{correlation}/"

    def read() -> int:
        with transaction.atomic(), event_context(correlation_id=correlation):
            append()
        return most_partitions_planned(lambda: staff.get(url))

    grow(2)
    before = read()
    grow(GROWTH)
    after = read()
    assert before <= WINDOW + 1 and after <= WINDOW + 1, (before, after)

    # In position order, a page at a time, as one read of the log gives them.
    expected = list(
        Event.objects.filter(correlation_id=correlation)
        .order_by("position")
        .values_list("position", flat=True)
    )
    first = staff.get(url, {"limit": 1}).json()
    rest = staff.get(url, {"after": first["next_after"]}).json()
    assert [e["position"] for e in first["results"] + rest["results"]] == expected
    assert len(expected) == 2 and rest["next_after"] is None


# More than the shared test database's log holds after the whole suite (about 20,000 events):
# a read limited below the log's length would be compared with all of it.
WHOLE_LOG = 10_000_000


def expected_positions(after: int, **filters) -> list[int]:
    """The positions read_all should give: every event after `after` below the horizon, in order."""
    below = horizon()
    return list(
        Event.objects.filter(position__gt=after, position__lt=below, **filters)
        .order_by("position")
        .values_list("position", flat=True)
    )


def test_read_all_from_the_start_reads_the_log_a_window_of_partitions_per_statement(monkeypatch):
    monkeypatch.setattr(partitions, "READ_WINDOW_PARTITIONS", WINDOW)
    stream = f"thing-{uuid.uuid4()}"

    def read() -> int:
        with transaction.atomic():
            newest = append(stream)
        wait_until_followable(newest.position)
        return max(
            most_partitions_planned(lambda: read_all(after=0, limit=10_000)),
            most_partitions_planned(lambda: read_all(after=0, types=["test:thing_happened"])),
            most_partitions_planned(lambda: read_all(after=0, stream_id=stream)),
        )

    grow(2)
    before = read()
    grow(GROWTH)
    after = read()
    assert before <= WINDOW + 1 and after <= WINDOW + 1, (before, after)

    # The same events, in the same order, as one read of the log gives them.
    assert [e.position for e in read_all(after=0, limit=WHOLE_LOG)] == expected_positions(0)
    assert [e.position for e in read_all(after=0, stream_id=stream)] == expected_positions(
        0, stream_id=stream
    )
    assert len(expected_positions(0, stream_id=stream)) == 2


def test_a_one_off_read_of_the_whole_log_goes_a_window_of_partitions_per_statement(monkeypatch):
    """follow_in_windows (the moderator-verdict export's read): each cursor plans over one window."""
    monkeypatch.setattr(partitions, "READ_WINDOW_PARTITIONS", WINDOW)

    def most_planned() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            read = [e.position for batch in follow_in_windows(types=[THING_HAPPENED.name]) for e in batch]
        cursors = [
            re.sub(r"^DECLARE \w+ NO SCROLL CURSOR FOR ", "", q["sql"])
            for q in captured.captured_queries
            if q["sql"].startswith("DECLARE eventstore_follow")
        ]
        most = 0
        with connection.cursor() as cursor:
            for sql in cursors:
                cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
                planned = re.findall(
                    r'"Relation Name": "(eventstore_event_(?!key)[^"]+)"', json.dumps(cursor.fetchone()[0])
                )
                most = max(most, len(set(planned)))
        assert read == sorted(read)
        return most, len(read)

    grow(2)
    before, _ = most_planned()
    grow(GROWTH)
    after, events = most_planned()
    assert before <= WINDOW + 1 and after <= WINDOW + 1, (before, after)
    # Every event of the type, in order, as one follow() of the whole visible log gives them.
    with transaction.atomic():
        one_read = [
            e.position for batch in follow(types=[THING_HAPPENED.name], below_horizon=False) for e in batch
        ]
    assert events == len(one_read) >= GROWTH


def test_the_api_event_list_pages_through_the_windows_as_through_one_read(monkeypatch, make_user):
    monkeypatch.setattr(partitions, "READ_WINDOW_PARTITIONS", WINDOW)
    staff = staff_client(make_user)
    # Paged from the event before the growth, not from the start: the pages cross the same
    # windows, and the suite's earlier events would cost thousands of pages of three.
    with transaction.atomic():
        start = append().position
    wait_until_followable(start)
    grow(GROWTH)
    with transaction.atomic():
        newest = append()
    wait_until_followable(newest.position)
    expected = expected_positions(start - 1)
    pages, after = [], start - 1
    while True:
        page = staff.get("/api/events/", {"after": after, "limit": 3}).json()
        if not page["results"]:
            assert page["next_after"] == after
            break
        pages.append([e["position"] for e in page["results"]])
        after = page["next_after"]
        assert after == pages[-1][-1]
    assert [position for page in pages for position in page] == expected and len(expected) > GROWTH
    assert all(len(page) == 3 for page in pages[:-1])  # every page full but the last


def test_a_follower_near_the_head_sends_one_statement_and_no_catalog_read():
    grow(2)
    with transaction.atomic():
        first = append()
    wait_until_followable(first.position)
    read_all(after=first.position)  # the process's list of partitions is read by now
    with transaction.atomic():
        second = append()
    wait_until_followable(second.position)
    with CaptureQueriesContext(connection) as captured:
        assert [e.position for e in read_all(after=first.position)] == [second.position]
    sent = [q["sql"] for q in captured.captured_queries]
    assert not any("partition_upper_bounds" in sql for sql in sent), sent
    assert len([sql for sql in sent if re.search(r"\bFROM eventstore_event\b", sql)]) == 1, sent


def test_a_list_of_partitions_known_before_the_log_grew_gives_the_same_reads(monkeypatch):
    """The list is read again once the horizon passes it; until then a stale list only cuts the
    windows elsewhere, never changes what a read returns."""
    monkeypatch.setattr(partitions, "READ_WINDOW_PARTITIONS", WINDOW)
    grow(2)
    with transaction.atomic():
        newest = append()
    wait_until_followable(newest.position)
    read_all(after=0)
    known = partitions.known_partitions(horizon())
    grow(GROWTH)
    with transaction.atomic():
        newest = append()
    wait_until_followable(newest.position)
    assert [e.position for e in read_all(after=0, limit=WHOLE_LOG)] == expected_positions(0)
    assert len(partitions.known_partitions(horizon())) > len(known)


def burn_transactions(count: int) -> None:
    """Take `count` transaction ids, each in a transaction of its own (positions move on with them)."""
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute(
            f"DO $$ BEGIN FOR i IN 1..{int(count)} LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$"
        )
        cursor.execute("RESET synchronous_commit")


def test_read_all_in_windows_reads_nothing_past_a_transaction_still_open_in_an_earlier_window(monkeypatch):
    """Each window's statement is bounded by the same horizon: an event committed two partitions
    past a still-open transaction is not read, in its own window either, until that one ends."""
    monkeypatch.setattr(partitions, "READ_WINDOW_PARTITIONS", 1)
    run = uuid.uuid4().hex[:12]
    appended, release = threading.Event(), threading.Event()

    def slow_writer():
        with transaction.atomic():
            publish(THING_HAPPENED, stream_id=f"thing-{run}-slow", data={"label": f"{run}-slow"})
            appended.set()
            release.wait(60)
        connection.close()

    slow = threading.Thread(target=slow_writer)
    slow.start()
    try:
        assert appended.wait(30)
        burn_transactions(2 * settings.EVENTSTORE_PARTITION_TRANSACTIONS)
        partitions.ensure_ahead()
        with transaction.atomic():
            fast = publish(THING_HAPPENED, stream_id=f"thing-{run}-fast", data={"label": f"{run}-fast"})

        def mine():
            return [e for e in read_all(after=0, limit=100_000) if e.data.get("label", "").startswith(run)]

        assert mine() == [], "nothing at or past an open transaction's position is read"
    finally:
        release.set()
        slow.join(30)
    wait_until_followable(fast.position)
    found = mine()
    assert [e.data["label"] for e in found] == [f"{run}-slow", f"{run}-fast"]
    listed = partitions.partitions()
    holding = [
        next(name for name, _lower, upper in listed if e.position < upper) for e in found
    ]  # the windows are one partition each here: the two events lie in different ones
    assert holding[0] != holding[1], holding
