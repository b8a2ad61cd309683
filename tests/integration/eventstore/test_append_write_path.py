"""The append's fast paths return and store exactly what the slow ones did.

One event travels as plain values, a batch as binary arrays; the returned
events are paired with the inserted rows by position; inline projections are
looked up per type; events without personal values skip the sealing work.
"""

import json
import uuid

import pytest
from django.db import connection, transaction

from eventstore import projections
from eventstore.bus import publish, publish_many
from eventstore.context import event_context
from eventstore.envelope import RecordedEvent
from eventstore.privacy import crypto
from eventstore.reading import read_stream
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db

# Characters that text array literals and JSON both escape, and some that are not ASCII.
AWKWARD = 'quote " backslash \\ braces {a,b} comma, "$pii" é ✓ 🎉 tab\t newline\n'


def stream() -> str:
    return f"thing-{uuid.uuid4()}"


def stored_metadata(event_id: uuid.UUID) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT metadata::text FROM eventstore_event WHERE id = %s", [event_id])
        return json.loads(cursor.fetchone()[0])


def test_returned_events_are_the_stored_ones_one_by_one_and_in_a_batch():
    stream_id = stream()
    with transaction.atomic():
        returned = [publish(THING_HAPPENED, stream_id=stream_id, data={"label": AWKWARD, "size": 1})]
        returned += publish_many(
            stream_id, [(THING_HAPPENED, {"label": f"{AWKWARD}{n}", "size": n}) for n in range(7)]
        )
    stored = read_stream(stream_id)
    assert [e.as_dict() for e in returned] == [e.as_dict() for e in stored]
    assert [e.data["label"] for e in stored] == [AWKWARD] + [f"{AWKWARD}{n}" for n in range(7)]
    assert [e.stream_version for e in stored] == list(range(1, 9))


def test_an_event_id_given_as_text_is_stored_and_returned_as_that_uuid():
    event_id = uuid.uuid4()
    with transaction.atomic():
        event = publish(THING_HAPPENED, stream_id=stream(), data={"label": "x"}, event_id=str(event_id))
    assert event.id == event_id and isinstance(event.id, uuid.UUID)
    with transaction.atomic():  # the same id again: the stored event, not a second one
        again = publish(THING_HAPPENED, stream_id=event.stream_id, data={"label": "x"}, event_id=event_id)
    assert again.position == event.position


def test_personal_metadata_is_sealed_at_rest_and_plain_for_the_caller():
    with (
        event_context(metadata={"ip": "198.51.100.7", "user_agent": "", "path": "/x/"}),
        transaction.atomic(),
    ):
        event = publish(THING_HAPPENED, stream_id=stream(), data={"label": "x"})
    assert event.metadata == {"ip": "198.51.100.7", "user_agent": "", "path": "/x/"}
    at_rest = stored_metadata(event.id)
    assert crypto.is_sealed(at_rest["ip"]) and "198.51.100.7" not in str(at_rest)
    assert at_rest["user_agent"] == "" and at_rest["path"] == "/x/"  # empty values stay as they are


def test_an_event_without_personal_values_is_stored_as_given():
    with event_context(metadata={"path": "/x/"}), transaction.atomic():
        event = publish(THING_HAPPENED, stream_id=stream(), data={"label": "x"})
    assert stored_metadata(event.id) == {"path": "/x/"}


@pytest.fixture
def late_projection():
    """An inline projection registered after events of its type were already dispatched."""
    seen: list[RecordedEvent] = []
    projection = projections.Projection(
        name="test.late_inline", handlers={THING_HAPPENED.name: seen.append}, models=[]
    )
    yield projection, seen
    projections._projections.pop(projection.name, None)
    projections._inline_by_type.clear()


def test_a_projection_registered_later_receives_the_next_events(late_projection):
    projection, seen = late_projection
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream(), data={"label": "before"})
    projections.register_projection(projection)
    with transaction.atomic():
        event = publish(THING_HAPPENED, stream_id=stream(), data={"label": "after"})
    assert seen == [event]
