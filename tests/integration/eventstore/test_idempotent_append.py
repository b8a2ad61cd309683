"""Idempotent append means one effect (guarantee 4): a stored id again changes nothing anywhere.

A stored id published again returns the stored event and runs no inline
projection (here the real community projections: a comment counted twice
would show in the post's comment count). The same id with other data, in
another stream or as another type is an EventIdConflict, and the
per-transaction event limit holds across several appends.
"""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection, transaction
from rest_framework.test import APIRequestFactory

from community_app import services
from community_app.events import COMMENT_CREATED, comment_stream
from community_app.models import Comment, Post
from eventstore.bus import publish, publish_many
from eventstore.envelope import ExpectedVersion
from eventstore.errors import (
    ConcurrencyConflict,
    EventIdConflict,
    TransactionEventLimit,
)
from eventstore.reading import read_stream
from eventstore.store.statements import LAST_POSITION_SETTING, MAX_EVENTS_PER_TRANSACTION, TX_BASE
from platform_site.api_errors import exception_handler
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def post(make_user):
    return services.post_create(author=make_user(), title="A post", body="to comment on")


def comment_data(post, comment_id: uuid.UUID, body: str = "first!") -> dict:
    return {
        "comment_id": comment_id,
        "post_id": post.id,
        "body": body,
        "author_id": post.author_id,
        "author_username": "someone",
    }


def publish_comment(post, event_id: uuid.UUID, comment_id: uuid.UUID, body: str = "first!"):
    return publish(
        COMMENT_CREATED,
        stream_id=comment_stream(comment_id),
        data=comment_data(post, comment_id, body),
        event_id=event_id,
        expected_version=ExpectedVersion.NO_STREAM,
    )


def comment_count(post) -> int:
    return Post.objects.get(id=post.id).comment_count


def test_a_stored_event_published_again_runs_no_projection_again(post):
    event_id, comment_id = uuid.uuid4(), uuid.uuid4()
    with transaction.atomic():
        first = publish_comment(post, event_id, comment_id)
    with transaction.atomic():
        again = publish_comment(post, event_id, comment_id)
    assert again.position == first.position
    assert again.data["body"] == "first!"  # the stored event, opened for its reader
    assert comment_count(post) == 1
    assert Comment.objects.filter(post_id=post.id).count() == 1
    assert len(read_stream(comment_stream(comment_id))) == 1


def test_a_stored_event_published_again_in_the_same_transaction_runs_no_projection_again(post):
    event_id, comment_id = uuid.uuid4(), uuid.uuid4()
    with transaction.atomic():
        first = publish_comment(post, event_id, comment_id)
        again = publish_comment(post, event_id, comment_id)
    assert again.position == first.position
    assert comment_count(post) == 1


def test_two_transactions_publishing_one_id_at_once_record_it_once_and_count_it_once(post):
    event_id, comment_id = uuid.uuid4(), uuid.uuid4()
    barrier = threading.Barrier(4)
    results: list[object] = []

    def run() -> None:
        try:
            barrier.wait()
            with transaction.atomic():
                results.append(publish_comment(post, event_id, comment_id).position)
        except Exception as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1, results  # every writer got the one stored position
    assert comment_count(post) == 1
    assert len(read_stream(comment_stream(comment_id))) == 1


def test_the_same_id_with_other_data_is_an_event_id_conflict_and_stores_nothing(post):
    event_id, comment_id = uuid.uuid4(), uuid.uuid4()
    with transaction.atomic():
        publish_comment(post, event_id, comment_id, body="first!")
    with pytest.raises(EventIdConflict) as refused, transaction.atomic():
        publish_comment(post, event_id, comment_id, body="edited?")
    assert not isinstance(refused.value, ConcurrencyConflict)  # retrying cannot help: not a version clash
    assert refused.value.event_id == event_id
    assert [e.data["body"] for e in read_stream(comment_stream(comment_id))] == ["first!"]
    assert comment_count(post) == 1


def test_the_same_id_in_another_stream_is_an_event_id_conflict():
    event_id = uuid.uuid4()
    stream, other = f"thing-{uuid.uuid4()}", f"thing-{uuid.uuid4()}"
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream, data={"label": "here"}, event_id=event_id)
    with pytest.raises(EventIdConflict, match="stored in stream"), transaction.atomic():
        publish(THING_HAPPENED, stream_id=other, data={"label": "here"}, event_id=event_id)
    assert read_stream(other) == []


def test_the_same_id_as_another_type_is_an_event_id_conflict(post):
    event_id, comment_id = uuid.uuid4(), uuid.uuid4()
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=comment_stream(comment_id), data={"label": "x"}, event_id=event_id)
    with pytest.raises(EventIdConflict, match="stored as"), transaction.atomic():
        publish(
            COMMENT_CREATED,
            stream_id=comment_stream(comment_id),
            data=comment_data(post, comment_id),
            event_id=event_id,
        )
    assert comment_count(post) == 0


def take_positions_up_to(n: int) -> None:
    """Make this transaction hold positions up to `n` of its range, as if it had appended n events.

    One row at base + n stands for them (appending a million events would take
    the test minutes), remembered as the transaction's last position as an append
    remembers it: the next append counts on from there, and a refusal reads the row.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO eventstore_event (position, id, stream_id, stream_version, type, schema_version,
                                              data, source, correlation_id)
                SELECT {TX_BASE} + %s, %s, %s, 1, %s, 2, '{{"label": "filler"}}', 'test', %s
                RETURNING set_config(%s, position::text, true)""",
            [
                n,
                uuid.uuid4(),
                f"thing-{uuid.uuid4()}",
                THING_HAPPENED.name,
                uuid.uuid4(),
                LAST_POSITION_SETTING,
            ],
        )


def test_the_event_limit_holds_across_several_appends_of_one_transaction():
    stream = f"thing-{uuid.uuid4()}"
    with pytest.raises(TransactionEventLimit) as refused, transaction.atomic():
        take_positions_up_to(MAX_EVENTS_PER_TRANSACTION - 2)
        last = publish(THING_HAPPENED, stream_id=stream, data={"label": "fits"})
        publish(THING_HAPPENED, stream_id=stream, data={"label": "fits too"})
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {TX_BASE}")
            base = cursor.fetchone()[0]
        assert last.position == base + MAX_EVENTS_PER_TRANSACTION - 1
        publish(THING_HAPPENED, stream_id=stream, data={"label": "one too many"})
    assert (refused.value.already, refused.value.more) == (MAX_EVENTS_PER_TRANSACTION, 1)
    assert read_stream(stream) == []  # the block rolled back


def test_a_batch_past_the_event_limit_is_refused_whole():
    stream = f"thing-{uuid.uuid4()}"
    with pytest.raises(TransactionEventLimit), transaction.atomic():
        take_positions_up_to(MAX_EVENTS_PER_TRANSACTION - 1)
        publish_many(stream, [(THING_HAPPENED, {"label": "a"}), (THING_HAPPENED, {"label": "b"})])
    assert read_stream(stream) == []


def test_no_position_leaves_its_transactions_range():
    """Without the limit the next event would take base + 2^20: the first position of the next transaction id."""
    stream = f"thing-{uuid.uuid4()}"
    with transaction.atomic():
        take_positions_up_to(MAX_EVENTS_PER_TRANSACTION)
        with pytest.raises(TransactionEventLimit):
            publish(THING_HAPPENED, stream_id=stream, data={"label": "past the range"})
        transaction.set_rollback(True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM eventstore_event WHERE stream_id = %s", [stream])
        assert cursor.fetchone()[0] == 0


def test_the_api_answers_these_refusals_with_409():
    request = APIRequestFactory().post("/api/posts/")
    for error in (EventIdConflict(uuid.uuid4(), "stored with other data"), TransactionEventLimit(5, 1, 5)):
        response = exception_handler(error, {"request": request})
        assert response.status_code == 409
        assert "detail" in response.data
