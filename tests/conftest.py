"""Fixtures shared by every test layer."""

import pytest


def pytest_collection_modifyitems(items):
    """Give every test its own node id: pytest-xdist hands tests out by id and runs one per id.

    Schemathesis names each operation's test `test_…[POST /api/posts/]` but leaves
    every one the function's id: in several processes the fuzz test would run one
    operation of its 22.
    """
    from collections import Counter

    from _pytest.nodeid import coerce_node_id  # pytest's own type of id (pinned pytest)

    shared = {nodeid for nodeid, count in Counter(item.nodeid for item in items).items() if count > 1}
    for item in items:
        if item.nodeid in shared and "[" in item.name:
            item._id = coerce_node_id(f"{item.nodeid}[{item.name.partition('[')[2]}")


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def make_user(db):
    """Create a user straight in the user table (for tests of other apps)."""
    from django.contrib.auth import get_user_model

    def make(username: str | None = None, **extra):
        import uuid

        username = username or f"user{uuid.uuid4().hex[:10]}"
        extra.setdefault("email", f"{username}@example.com")
        return get_user_model().objects.create_user(username=username, password="a-Long-pass-123", **extra)

    return make


def wait_until_followable(position: int, timeout: float = 15.0) -> None:
    """Wait until gap-safe readers can see `position`.

    Any writing transaction still open in the test database holds the horizon
    back (by design, see docs/eventstore.md); that can take a moment even after
    our own commit.
    """
    import time

    from eventstore.reading import horizon

    deadline = time.monotonic() + timeout
    while horizon() <= position:
        if time.monotonic() > deadline:
            raise AssertionError(f"position {position} still behind the horizon after {timeout} s")
        time.sleep(0.01)


def protocol_messages_sent(action) -> list[str]:
    """The protocol messages the client sent on Django's connection while `action` ran (libpq's trace)."""
    import tempfile

    from django.db import connection

    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    with tempfile.TemporaryFile("w+") as trace:
        pgconn.trace(trace.fileno())
        try:
            action()
        finally:
            pgconn.untrace()
        trace.seek(0)
        # Messages are lines of "timestamp, direction, length, message, fields",
        # tab-separated; a Parse's SQL continues on lines of its own.
        lines = [line.rstrip("\n").split("\t") for line in trace]
        return [fields[3] for fields in lines if len(fields) > 3 and fields[1] == "F"]


def start_at_head() -> int:
    """Let the relay and every subscriber begin at the end of the log as it is now.

    Events of earlier tests stay in the test database's log (it is append-only)
    while their effects were flushed: without this, each test would first
    handle all of them again. Returns the head position.
    """
    from eventstore import streams
    from eventstore.models import Checkpoint
    from eventstore.monitoring import head_position
    from eventstore.relay import RELAY_CHECKPOINT, relay_partition_checkpoint, subscriber_checkpoint_name
    from eventstore.subscribers import registered_subscribers

    head = head_position()
    names = [RELAY_CHECKPOINT]
    for partition in range(streams.partition_count()):
        names.append(relay_partition_checkpoint(partition))
        names += [subscriber_checkpoint_name(name, partition) for name in registered_subscribers()]
    for name in names:
        Checkpoint.objects.update_or_create(name=name, defaults={"position": head, "ledger_from": head})
    return head


@pytest.fixture(scope="session", autouse=True)
def _empty_test_redis():
    """Start every run with an empty test Redis database (rate-limit counters, streams, queues)."""
    from eventstore.redis import get_redis

    get_redis().flushdb()


@pytest.fixture(autouse=True)
def _fresh_relay_waker():
    """No test inherits another's wake-up window or its memory of a woken runner."""
    from eventstore.wakeups import relay_waker

    relay_waker.reset()
    yield
    relay_waker.reset()


_kept_personal_data_keys: list[dict] = []


def _commits(request) -> bool:
    """Whether the test's writes commit (then the log keeps its events after the test's flush)."""
    if {"transactional_db", "live_server"} & set(request.fixturenames):
        return True
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and marker.kwargs.get("transaction"))


@pytest.fixture(autouse=True)
def _personal_data_keys_outlive_each_test(request):
    """Personal-data keys are kept from one test to the next, as in production (where none is ever deleted).

    A test's flush empties the key table while the append-only log keeps the
    events sealed with those keys. A later test would make a new key for the
    same subject (failed logins of unknown names share one per day), and
    reading the whole log (a rebuild) could not open the old values.
    """
    if not _commits(request):
        yield
        return
    # Asked for here, so the database is set up before this fixture and flushed only after it.
    request.getfixturevalue("transactional_db")
    _in_a_thread(_restore_personal_data_keys)
    yield
    _in_a_thread(_keep_personal_data_keys)


def _in_a_thread(work) -> None:
    """Browser tests run an event loop in the test's thread, where Django refuses the ORM."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    def run():
        try:
            work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(run).result()


def _restore_personal_data_keys() -> None:
    from eventstore.models import PersonalDataKey

    PersonalDataKey.objects.bulk_create(
        [PersonalDataKey(**row) for row in _kept_personal_data_keys], ignore_conflicts=True
    )


def _keep_personal_data_keys() -> None:
    from eventstore.models import PersonalDataKey

    _kept_personal_data_keys[:] = list(PersonalDataKey.objects.values())
