"""Every read a request can trigger is bounded and served by an index (issue 18 item 6).

Each request's queries on the log are captured as run, then planned again
with sequential scans discouraged: a query must carry a LIMIT and use the
index named here (an index that does not fit would show as the primary key
walked with a filter, i.e. the whole log in the worst case). The tables'
sizes in a test database would make the planner prefer sequential scans for
reasons that do not hold on a long log, hence `enable_seqscan = off`.
"""

import re
import uuid

import orjson
import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from eventstore.bus import publish, publish_many
from eventstore.context import event_context
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db

LOG = re.compile(r"\beventstore_event(_key)?\b")  # the log, and the key table that stream reads start from
STREAM_KEY = "eventstore_event_key_stream_version"  # the log keeps no index by stream (migration 0015)
CORRELATION_INDEX = "eventstore_event_correlation_idx"
SOURCE_INDEX = "eventstore_event_source_idx"
TYPE_INDEX = "eventstore_event_type_idx"
PRIMARY_KEY = "eventstore_event_pkey"


def plan_nodes(sql: str) -> list[dict]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        plan = cursor.fetchone()[0]
    plan = orjson.loads(plan) if isinstance(plan, str | bytes) else plan
    nodes, stack = [], [plan[0]["Plan"]]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.get("Plans", []))
    return nodes


def plan_text(sql: str) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def root_of(relation: str) -> str:
    """The log's own table or index for one of its partitions' (migration 0010); others as named."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(pg_partition_root(%s::regclass)::text, %s)", [relation, relation])
        return cursor.fetchone()[0]


def log_indexes(sql: str) -> set[str]:
    """The log's indexes a query reads it through (each partition's as the log's); fails on a sequential scan."""
    nodes = plan_nodes(sql)
    scans = [n for n in nodes if "Relation Name" in n or "Index Name" in n]
    seq_scanned = {root_of(n["Relation Name"]) for n in scans if n["Node Type"] == "Seq Scan"}
    assert "eventstore_event" not in seq_scanned, sql
    indexes = {root_of(n["Index Name"]) for n in scans if "Index Name" in n}
    return {name for name in indexes if name.startswith("eventstore_event_")}


def log_queries(run) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = run()
    assert response.status_code == 200, response.content[:500]
    return [q["sql"] for q in captured.captured_queries if LOG.search(q["sql"])]


def assert_bounded_by(queries: list[str], index: str) -> None:
    assert queries
    for sql in queries:
        assert "LIMIT" in sql.upper(), sql
    assert any(index in log_indexes(sql) for sql in queries), (
        index,
        queries,
        [plan_text(q) for q in queries],
    )


@pytest.fixture
def staff(make_user):
    client = Client()
    client.force_login(make_user(is_staff=True, is_superuser=True))
    return client


LOG_ROWS_FOR_PLANS = 5000


@pytest.fixture(autouse=True)
def log_of_some_length():
    """Enough events, with fresh statistics, that the planner weighs plans as on a long log.

    With a handful of rows every plan costs the same and the planner picks any.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM eventstore_event LIMIT %s) AS s", [LOG_ROWS_FOR_PLANS]
        )
        missing = LOG_ROWS_FOR_PLANS - cursor.fetchone()[0]
    if missing > 0:
        with transaction.atomic():
            publish_many(f"thing-{uuid.uuid4()}", [(THING_HAPPENED, {"label": "filler"})] * missing)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE eventstore_event")


@pytest.fixture
def stream():
    """A stream of five events under one correlation id."""
    stream_id, correlation = f"thing-{uuid.uuid4()}", uuid.uuid4()
    with event_context(correlation_id=correlation):
        for n in range(5):
            with transaction.atomic():
                publish(THING_HAPPENED, stream_id=stream_id, data={"label": f"n{n}"})
    return stream_id, correlation


def test_the_api_reads_a_stream_a_page_at_a_time_along_its_key(staff, stream):
    stream_id, _ = stream
    queries = log_queries(
        lambda: staff.get(f"/api/events/streams/{stream_id}/", {"limit": 2, "after_version": 1})
    )
    assert_bounded_by(queries, STREAM_KEY)
    page = staff.get(f"/api/events/streams/{stream_id}/", {"limit": 2, "after_version": 1}).json()
    assert [event["stream_version"] for event in page] == [2, 3]
    assert len(staff.get(f"/api/events/streams/{stream_id}/").json()) == 5
    assert staff.get(f"/api/events/streams/{stream_id}/", {"limit": 1001}).status_code == 400


def test_the_api_reads_a_correlation_a_page_at_a_time_along_its_index(staff, stream):
    _, correlation = stream
    url = f"/api/events/correlation/{correlation}/"
    assert_bounded_by(log_queries(lambda: staff.get(url, {"limit": 2})), CORRELATION_INDEX)
    first = staff.get(url, {"limit": 3}).json()
    rest = staff.get(url, {"limit": 3, "after": first["next_after"]}).json()
    assert len(first["results"]) == 3 and len(rest["results"]) == 2 and rest["next_after"] is None
    assert staff.get(url, {"after": "x"}).status_code == 400


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        # Values with few or no events: the case where walking the primary key reads the whole log.
        ({"source": "nosuchsource"}, SOURCE_INDEX),
        ({"type": "test:never_published"}, TYPE_INDEX),
        ({"stream_id": "STREAM"}, STREAM_KEY),
        ({"correlation_id": "CORRELATION"}, CORRELATION_INDEX),
    ],
)
def test_the_api_event_list_uses_an_index_for_each_filter(staff, stream, filters, index):
    stream_id, correlation = stream
    filters = {
        k: {"STREAM": stream_id, "CORRELATION": str(correlation)}.get(v, v) for k, v in filters.items()
    }
    assert_bounded_by(log_queries(lambda: staff.get("/api/events/", {**filters, "limit": 10})), index)


@pytest.mark.parametrize(
    ("filters", "index"),
    [({"source": "nosuchsource"}, SOURCE_INDEX), ({"type": "x:y"}, TYPE_INDEX), ({}, PRIMARY_KEY)],
)
def test_the_explorer_pages_use_an_index(staff, filters, index, stream):
    from django.utils import timezone

    from monitoring_app.selectors import EventFilter, event_page

    # The page's own query (the form admits only registered values, common in a test database).
    with CaptureQueriesContext(connection) as captured:
        event_page(EventFilter(**filters), now=timezone.now())
    assert_bounded_by([q["sql"] for q in captured.captured_queries if LOG.search(q["sql"])], index)
    assert staff.get("/explorer/", filters).status_code == 200


def test_the_explorer_shows_a_long_stream_a_page_at_a_time(staff, stream, monkeypatch):
    from monitoring_app.selectors import explorer

    stream_id, _ = stream
    monkeypatch.setattr(explorer, "STREAM_PAGE_SIZE", 2)
    queries = log_queries(lambda: staff.get(f"/explorer/streams/{stream_id}/"))
    assert_bounded_by(queries, STREAM_KEY)
    page = staff.get(f"/explorer/streams/{stream_id}/")
    assert [e["event"].stream_version for e in page.context["history"]] == [1, 2]
    assert page.context["next_after_version"] == 2
    later = staff.get(f"/explorer/streams/{stream_id}/", {"after_version": 4})
    assert [e["event"].stream_version for e in later.context["history"]] == [5]
    assert later.context["next_after_version"] is None


@pytest.mark.parametrize(
    "params", [{}, {"source": "links"}, {"type": "test:thing_happened"}, {"q": "not-a-uuid"}, {"p": "2"}]
)
def test_the_admin_event_list_counts_no_further_than_its_limit_and_lists_no_distinct_values(
    staff, stream, params, monkeypatch
):
    from eventstore.admin import EventAdmin

    monkeypatch.setattr(EventAdmin, "list_per_page", 2)  # pages, as on a long log
    if "q" in params:
        params = {"q": stream[0]}
    pages = []
    queries = log_queries(lambda: pages.append(staff.get("/admin/eventstore/event/", params)) or pages[0])
    # Django lists a result that fits one page without a LIMIT: the bounded count said it does.
    one_page = pages[0].context["cl"].result_count <= EventAdmin.list_per_page
    for sql in queries:
        assert "DISTINCT" not in sql.upper(), sql
        is_count = "COUNT(" in sql.upper()
        assert "LIMIT" in sql.upper() or (one_page and not is_count), sql  # the count stops at COUNT_LIMIT
        log_indexes(sql)  # and no sequential scan of the log
    if "source" in params:
        assert any(SOURCE_INDEX in log_indexes(sql) for sql in queries)
    if "q" in params:
        assert any(STREAM_KEY in log_indexes(sql) for sql in queries)


def test_an_admin_search_that_is_not_a_uuid_is_no_error(staff):
    assert staff.get("/admin/eventstore/event/", {"q": "not-a-uuid"}).status_code == 200


# A partition the planner expects to hold no more than this many rows of a range may be read
# through any index and sorted: earlier tests in this database leave partitions of a few events.
FEW_ROWS = 100


def test_health_reads_the_log_only_in_bounded_steps(client, stream):
    queries = log_queries(lambda: client.get("/health/"))
    for sql in queries:
        assert "LIMIT" in sql.upper(), sql
        log_indexes(sql)  # no sequential scan of the log
        other_indexes = [
            node
            for node in plan_nodes(sql)
            if node.get("Index Name", "").startswith("eventstore_event_")
            and root_of(node["Index Name"]) != PRIMARY_KEY
        ]
        assert all(node["Plan Rows"] <= FEW_ROWS for node in other_indexes), sql
