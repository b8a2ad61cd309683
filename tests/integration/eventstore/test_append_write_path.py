"""The append's fast paths return and store exactly what the slow ones did.

One event travels as plain values, a batch as binary arrays; the returned
events are paired with the inserted rows by position; inline projections are
looked up per type; events without personal values skip the sealing work, and
events whose JSON names no sealed value skip the opening.
"""

import json
import uuid

import pytest
from django.db import connection, transaction

from community_app.events import POST_CREATED, post_stream
from eventstore import projections
from eventstore.bus import publish, publish_many
from eventstore.context import event_context
from eventstore.envelope import RecordedEvent
from eventstore.errors import InvalidEventData, UnknownEventType
from eventstore.privacy import ERASED, KeyRing, crypto, forget_subject, user_subject
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


def post_created(author, title: str) -> tuple[str, dict]:
    post_id = uuid.uuid4()
    data = {
        "post_id": str(post_id),
        "title": title,
        "body_text": AWKWARD,
        "author_id": author.pk,
        "author_username": author.username,
        "urls": [],
    }
    return post_stream(post_id), data


@pytest.mark.parametrize("forgotten", ["none", "author", "actor"])
def test_the_caller_gets_each_sealed_event_as_a_reader_reads_it(forgotten, make_user):
    """The append returns the plaintext it sealed, or erased values where the subject was forgotten.

    The data's subject is the author, the metadata's the acting user (eventstore.privacy.sealing).
    """
    author, actor = make_user(), make_user()
    if forgotten != "none":
        forget_subject(user_subject((author if forgotten == "author" else actor).pk))
    metadata = {"ip": "198.51.100.7", "user_agent": AWKWARD, "actor_id": actor.pk}
    with event_context(metadata=metadata), transaction.atomic():
        returned = [
            publish(POST_CREATED, stream_id=stream_id, data=data)
            for stream_id, data in (post_created(author, "one"), post_created(author, "two"))
        ]
    read = [read_stream(event.stream_id)[0] for event in returned]
    assert [(e.data, e.metadata) for e in returned] == [(e.data, e.metadata) for e in read]
    assert (returned[0].data["title"] == ERASED) == (forgotten == "author")
    assert (returned[0].metadata["ip"] == ERASED) == (forgotten == "actor")
    if forgotten == "none":
        assert returned[1].data["title"] == "two" and returned[1].metadata["user_agent"] == AWKWARD


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


def sealed_for_a_subject_with_a_key(value: str) -> dict:
    """A value sealed already, as a caller may pass one on (its subject's key is in the table)."""
    subject = f"user-{uuid.uuid4()}"
    return crypto.seal_value(subject, KeyRing().key_for_writing(subject), value)


def test_a_sealed_value_the_caller_passes_is_stored_sealed_and_returned_opened():
    with transaction.atomic():
        one = publish(
            THING_HAPPENED,
            stream_id=stream(),
            data={"label": "x"},
            metadata={"note": sealed_for_a_subject_with_a_key("one")},
        )
        many = publish_many(
            stream(),
            [(THING_HAPPENED, {"label": "a"}), (THING_HAPPENED, {"label": "b"})],
            metadata={"note": sealed_for_a_subject_with_a_key("many")},
        )
    assert one.metadata["note"] == "one"
    assert [e.metadata["note"] for e in many] == ["many", "many"]
    assert crypto.is_sealed(stored_metadata(one.id)["note"])
    assert crypto.is_sealed(stored_metadata(many[1].id)["note"])


def test_a_batch_of_types_given_both_ways_is_validated_as_one_by_one():
    label_type = THING_HAPPENED.name
    with transaction.atomic():
        events = publish_many(
            stream(),
            [
                (THING_HAPPENED, {"label": "a"}),
                (THING_HAPPENED, {"label": "b", "size": "2"}),
                (label_type, {"label": "c", "size": 3}),
                (THING_HAPPENED, {"label": "d"}),
            ],
        )
    assert [e.data for e in events] == [
        {"label": "a", "size": 0},
        {"label": "b", "size": 2},
        {"label": "c", "size": 3},
        {"label": "d", "size": 0},
    ]


def test_a_batch_is_refused_at_its_first_event_that_does_not_fit():
    stream_id = stream()
    with pytest.raises(InvalidEventData) as refused, transaction.atomic():
        publish_many(
            stream_id,
            [
                (THING_HAPPENED, {"label": "a"}),
                (THING_HAPPENED, {"label": "b", "colour": "red"}),
                (THING_HAPPENED, {"size": 3}),
                ("test:never_defined", {}),
            ],
        )
    # The second event's error alone, as validating one by one would raise it.
    assert "colour" in str(refused.value) and "Field required" not in str(refused.value)
    with pytest.raises(UnknownEventType), transaction.atomic():
        publish_many(stream_id, [("test:never_defined", {}), (THING_HAPPENED, {"size": 3})])
    assert read_stream(stream_id) == []
