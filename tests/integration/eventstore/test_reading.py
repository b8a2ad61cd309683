"""Upcasting stored old versions, and correlation/causation filled from context."""

import uuid

import pytest
from django.db import transaction

from eventstore import store
from eventstore.bus import publish
from eventstore.context import caused_by, event_context
from eventstore.envelope import ExpectedVersion, NewEvent
from eventstore.reading import read_correlation, read_events_by_id, read_stream
from eventstore.replay import rebuild_projection
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db


def test_a_stored_v1_event_is_read_in_the_current_shape():
    stream_id = f"thing-{uuid.uuid4()}"
    old = NewEvent(
        type=THING_HAPPENED.name,
        schema_version=1,
        data={"name": "written-long-ago"},
        source="test",
        correlation_id=uuid.uuid4(),
    )
    with transaction.atomic():
        store.append(stream_id, [old], ExpectedVersion.NO_STREAM)
    (event,) = read_stream(stream_id)
    assert event.schema_version == THING_HAPPENED.version == 2
    assert event.data == {"label": "written-long-ago", "size": 0}
    # The stored row keeps the shape it was written with.
    from eventstore.models import Event

    row = Event.objects.get(id=old.id)
    assert (row.schema_version, row.data) == (1, {"name": "written-long-ago"})


def test_events_of_one_unit_of_work_share_its_correlation_id():
    correlation = uuid.uuid4()
    with event_context(correlation_id=correlation, metadata={"ip": "203.0.113.9"}), transaction.atomic():
        first = publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4()}", data={"label": "a"})
        second = publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4()}", data={"label": "b"})
    assert first.correlation_id == second.correlation_id == correlation
    assert first.causation_id == correlation, "the request itself caused its first events"
    assert first.metadata["ip"] == "203.0.113.9"


def test_a_handler_s_events_point_at_the_event_that_caused_them():
    correlation = uuid.uuid4()
    with event_context(correlation_id=correlation), transaction.atomic():
        cause = publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4()}", data={"label": "cause"})
    with caused_by(cause.id, cause.correlation_id), transaction.atomic():
        effect = publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4()}", data={"label": "effect"})
    assert effect.correlation_id == correlation
    assert effect.causation_id == cause.id
    assert [e.id for e in read_correlation(correlation)] == [cause.id, effect.id]
    assert read_events_by_id([effect.id, cause.id])[0].id == effect.id


def test_without_any_context_each_publish_gets_a_fresh_correlation_id():
    with transaction.atomic():
        event = publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4()}", data={"label": "alone"})
    assert isinstance(event.correlation_id, uuid.UUID)
    assert event.causation_id == event.correlation_id


def test_rebuild_refills_a_projection_from_the_log():
    from eventstore.projections import Projection

    seen = []
    stream_id = f"thing-{uuid.uuid4()}"
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "x", "size": 3})
    from eventstore.models import Checkpoint

    # A throwaway projection over a real table: it counts sizes of this stream's events.
    projection = Projection(
        name="test.sizes",
        handlers={
            THING_HAPPENED.name: lambda e: seen.append(e.data["size"]) if e.stream_id == stream_id else None
        },
        models=[Checkpoint],
    )
    applied = rebuild_projection(projection)
    assert applied >= 1
    assert seen == [3]
