"""Positions within one transaction: an append that is not the first of its transaction counts on.

Each append remembers the last position it took in a transaction-local setting
(`statements.LAST_POSITION_SETTING`); a later append of the same transaction
counts on from it. The log itself is the reference: `eventstore_positions_taken()`
(migration 0014) reads the transaction's range, and the two must agree after
every step, savepoint rollbacks and refusals included. Transactional tests: the
point is what a real transaction and its savepoints do.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connection, transaction

from eventstore.bus import publish, publish_many
from eventstore.errors import ConcurrencyConflict
from eventstore.reading import read_stream
from eventstore.store.statements import LAST_POSITION_SETTING, TX_BASE
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db(transaction=True)


def stream() -> str:
    return f"thing-{uuid.uuid4()}"


def thing(stream_id: str, label: str, **kwargs):
    return publish(THING_HAPPENED, stream_id=stream_id, data={"label": label}, **kwargs)


def tx_base() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {TX_BASE}")
        return cursor.fetchone()[0]


def taken() -> int:
    """Positions this transaction took, as the log says; asserts that the remembered count agrees."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT eventstore_positions_taken(), current_setting(%s, true), {TX_BASE}",
            [LAST_POSITION_SETTING],
        )
        in_log, remembered, base = cursor.fetchone()
    assert (int(remembered) - base if remembered else 0) == in_log
    return in_log


def test_an_append_after_a_read_takes_its_transactions_first_position_and_the_next_counts_on():
    stream_id = stream()
    with transaction.atomic():
        base = tx_base()  # the transaction's first statement, and no append
        first = thing(stream_id, "a")
        second = thing(stream_id, "b")
        assert taken() == 2
    assert (first.position, second.position) == (base + 1, base + 2)


def test_positions_a_rolled_back_savepoint_took_are_taken_again_and_none_twice():
    stream_id, other = stream(), stream()
    with transaction.atomic():
        base = tx_base()
        kept = thing(stream_id, "kept")
        with pytest.raises(RuntimeError), transaction.atomic():  # a savepoint
            publish_many(
                other, [(THING_HAPPENED, {"label": "gone"}), (THING_HAPPENED, {"label": "gone too"})]
            )
            assert taken() == 3
            raise RuntimeError("roll the savepoint back")
        assert taken() == 1
        after = thing(stream_id, "after")
        with transaction.atomic():  # a savepoint that is released
            inner = thing(other, "inner")
        last = thing(stream_id, "last")
        assert taken() == 4
    assert [kept.position, after.position, inner.position, last.position] == [base + n for n in (1, 2, 3, 4)]
    assert [e.data["label"] for e in read_stream(stream_id)] == ["kept", "after", "last"]
    assert [e.data["label"] for e in read_stream(other)] == ["inner"]


def test_an_append_refused_in_a_savepoint_leaves_the_count_as_it_was():
    stream_id = stream()
    with transaction.atomic():
        base = tx_base()
        thing(stream_id, "one")
        with pytest.raises(ConcurrencyConflict), transaction.atomic():
            thing(stream_id, "stale", expected_version=0)
        assert taken() == 1
        two = thing(stream_id, "two")
    assert two.position == base + 2


def test_the_remembered_position_ends_with_its_transaction():
    stream_id = stream()
    with transaction.atomic():
        thing(stream_id, "earlier transaction")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting(%s, true)", [LAST_POSITION_SETTING])
            assert cursor.fetchone()[0] in (None, "")
        base = tx_base()
        later = thing(stream_id, "later transaction")  # not the first statement: counts from the setting
    assert later.position == base + 1
