"""New events, posts and comments get time-ordered (version 7) ids; a supplied id is kept as given.

Time-ordered ids put an append's key-table index entries at the right edge of
each B-tree, so its writes stay on a few pages as the log grows
(docs/eventstore.md, "Ids and the key table's growth"). The log's older events
keep their random (version 4) ids: a log holding both kinds reads back in
position order, and an old id published again is still the idempotent no-op
it was.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connection, transaction

from community_app import services
from community_app.events import comment_stream, post_stream
from eventstore.bus import publish, publish_many
from eventstore.reading import read_stream
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db(transaction=True)


def _keys_of(stream_id: str) -> list[tuple[uuid.UUID, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, position FROM eventstore_event_key WHERE stream_id = %s ORDER BY position",
            [stream_id],
        )
        return cursor.fetchall()


def test_events_published_without_an_id_get_increasing_version_7_ids():
    with transaction.atomic():
        first = publish(THING_HAPPENED, stream_id="thing-ordered", data={"label": "first"})
    with transaction.atomic():
        batch = publish_many("thing-ordered", [(THING_HAPPENED, {"label": f"n{n}"}) for n in range(5)])
    with transaction.atomic():
        last = publish(THING_HAPPENED, stream_id="thing-ordered", data={"label": "last"})

    recorded = [first, *batch, last]
    assert [event.id.version for event in recorded] == [7] * 7
    # In id order = in position order: each new key goes to the right edge of the id index.
    keys = _keys_of("thing-ordered")
    assert [event_id for event_id, _position in keys] == [event.id for event in recorded]
    assert sorted(event_id for event_id, _position in keys) == [event_id for event_id, _position in keys]


def test_a_supplied_random_id_is_kept_and_reads_back_beside_time_ordered_ids():
    supplied = uuid.uuid4()  # an idempotent client's id, or an event of the log before version 7 ids
    with transaction.atomic():
        old = publish(THING_HAPPENED, stream_id="thing-mixed", data={"label": "old"}, event_id=supplied)
    with transaction.atomic():
        new = publish(THING_HAPPENED, stream_id="thing-mixed", data={"label": "new"})
    with transaction.atomic():
        again = publish(THING_HAPPENED, stream_id="thing-mixed", data={"label": "old"}, event_id=supplied)

    assert old.id == supplied and old.id.version == 4
    assert new.id.version == 7
    assert again.position == old.position  # stored once: the idempotent no-op it always was
    assert [(e.id, e.data["label"]) for e in read_stream("thing-mixed")] == [
        (supplied, "old"),
        (new.id, "new"),
    ]


def test_new_posts_and_comments_are_named_after_time_ordered_ids(make_user):
    author = make_user()
    older = services.post_create(author=author, title="Older", body="first")
    newer = services.post_create(author=author, title="Newer", body="second")
    comment = services.comment_create(author=author, post_id=newer.id, body="a comment")

    assert [older.id.version, newer.id.version, uuid.UUID(str(comment.id)).version] == [7, 7, 7]
    assert older.id < newer.id
    assert read_stream(post_stream(newer.id))[0].data["post_id"] == str(newer.id)
    assert read_stream(comment_stream(comment.id))[0].data["comment_id"] == str(comment.id)
