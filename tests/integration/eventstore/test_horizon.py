"""The horizon counts only this database's transactions, and is never ahead of one still running."""

import uuid

import psycopg
import pytest
from django.db import connection, transaction

from eventstore.bus import publish
from eventstore.reading import horizon
from eventstore.redis import get_redis
from eventstore.store import POSITION_SHIFT
from tests.db_sessions import open_session
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db(transaction=True)


def open_writing_transaction(dbname: str) -> tuple[psycopg.Connection, int]:
    """A second session, inside a transaction that holds a transaction id (as any writer does)."""
    session = open_session(dbname=dbname)
    xid = session.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()[0]
    return session, xid


def first_position(xid: int) -> int:
    """Where transaction `xid`'s positions begin: the stored base (migration 0006) plus its id, shifted."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT base FROM eventstore_position_base")
        return cursor.fetchone()[0] + (xid << POSITION_SHIFT)


def test_an_open_writer_in_this_database_holds_the_horizon_back_until_it_ends():
    session, xid = open_writing_transaction(connection.settings_dict["NAME"])
    try:
        assert horizon() <= first_position(xid)
    finally:
        session.commit()
        session.close()
    assert horizon() > first_position(xid)


def test_an_open_writer_in_another_database_does_not_hold_it_back():
    session, xid = open_writing_transaction("postgres")
    try:
        with transaction.atomic():
            event = publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4()}", data={"label": "later"})
        assert event.position > first_position(xid)
        # Our event committed after the other database's writer began, and is followable at once.
        assert horizon() > event.position
    finally:
        session.rollback()
        session.close()


def test_inside_one_transaction_a_writer_that_began_after_the_first_look_still_counts():
    """Postgres caches the activity it shows for a whole transaction; the horizon must not use a stale view."""
    with transaction.atomic():
        before = horizon()
        session, xid = open_writing_transaction(connection.settings_dict["NAME"])
        later, later_xid = open_writing_transaction(connection.settings_dict["NAME"])
        later.commit()  # a younger transaction ends: only the running list can hold the horizon now
        later.close()
        try:
            assert first_position(xid) >= before
            assert later_xid > xid
            assert horizon() <= first_position(xid)
        finally:
            session.rollback()
            session.close()


def test_the_relay_says_when_committed_events_wait_on_an_open_transaction():
    from eventstore.relay import relay_pending

    get_redis().flushdb()
    relay_pending()  # everything before this test is out of the way
    session, _xid = open_writing_transaction(connection.settings_dict["NAME"])
    try:
        with transaction.atomic():
            waiting = publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4()}", data={"label": "held"})
        sent, _partitions, held_back = relay_pending()
        assert (sent, held_back) == (0, True)
    finally:
        session.rollback()
        session.close()
    sent, _partitions, held_back = relay_pending()
    assert (sent, held_back) == (1, False)
    assert horizon() > waiting.position
