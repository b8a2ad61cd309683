"""The event explorer: filtered pages of the log, a stream with its state, a causal tree."""

import uuid

import pytest
from django.db import transaction

from eventstore.bus import publish
from eventstore.context import caused_by, event_context
from monitoring_app.selectors import PAGE_SIZE, correlation_tree, stream_history
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db


def test_filtering_by_stream_shows_only_that_streams_events(staff_client, thing_stream):
    first = thing_stream("first")
    second = thing_stream("second")
    with transaction.atomic():
        other = publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4().hex}", data={"label": "other"})

    page = staff_client.get("/explorer/", {"stream_id": thing_stream.stream_id, "since": "15m"})
    assert page.status_code == 200
    positions = [event.position for event in page.context["events"]]
    assert positions == [second.position, first.position]  # newest first
    assert other.position not in positions


def test_filtering_by_type_and_source_combines_with_the_stream(staff_client, thing_stream):
    thing_stream("one")
    by_type = staff_client.get(
        "/explorer/", {"stream_id": thing_stream.stream_id, "type": "test:thing_happened"}
    )
    assert len(by_type.context["events"]) == 1
    other_type = staff_client.get("/explorer/", {"stream_id": thing_stream.stream_id, "type": "user:created"})
    assert other_type.context["events"] == []
    assert b"No events match these filters" in other_type.content
    other_source = staff_client.get("/explorer/", {"stream_id": thing_stream.stream_id, "source": "auth"})
    assert other_source.context["events"] == []


def test_filter_values_that_make_no_sense_are_reported_not_a_server_error(staff_client):
    page = staff_client.get("/explorer/", {"since": "forever", "type": "no:such_type", "before": "x"})
    assert page.status_code == 200
    assert b"Some filters were not understood" in page.content


def test_older_pages_continue_below_the_last_position_shown(staff_client, thing_stream):
    events = [thing_stream(f"e{i}") for i in range(PAGE_SIZE + 2)]
    first = staff_client.get("/explorer/", {"stream_id": thing_stream.stream_id})
    assert len(first.context["events"]) == PAGE_SIZE
    assert first.context["next_url"] is not None
    older = staff_client.get(f"/explorer/{first.context['next_url']}")
    assert [e.position for e in older.context["events"]] == [events[1].position, events[0].position]
    assert older.context["next_url"] is None


def test_a_pasted_correlation_id_opens_its_causal_chain(staff_client):
    correlation = uuid.uuid4()
    response = staff_client.get("/explorer/", {"correlation_id": f" {correlation} "})
    assert response.status_code == 302
    assert response["Location"] == f"/explorer/correlation/{correlation}/"


def test_a_stream_shows_each_event_with_the_state_after_it(staff_client, thing_stream):
    thing_stream("draft", size=1)
    thing_stream("final", size=1)

    history, next_after_version = stream_history(thing_stream.stream_id)
    assert next_after_version is None
    assert [entry["state"] for entry in history] == [
        {"label": "draft", "size": 1},
        {"label": "final", "size": 1},
    ]
    assert [entry["changed"] for entry in history] == [["label", "size"], ["label"]]

    page = staff_client.get(f"/explorer/streams/{thing_stream.stream_id}/")
    assert page.status_code == 200
    assert b"State after v2" in page.content and b"&quot;final&quot;" in page.content


def test_unknown_streams_and_correlations_say_so_with_a_way_on(staff_client):
    stream = staff_client.get("/explorer/streams/thing-never-written/")
    assert stream.status_code == 404 and b"No events in stream" in stream.content
    chain = staff_client.get(f"/explorer/correlation/{uuid.uuid4()}/")
    assert chain.status_code == 404 and b"explorer" in chain.content


def test_a_correlation_is_shown_as_a_tree_of_causes_with_timings(staff_client):
    stream = f"thing-{uuid.uuid4().hex[:10]}"
    with (
        transaction.atomic(),
        event_context(metadata={"method": "POST", "path": "/api/things/"}) as correlation,
    ):
        request_event = publish(THING_HAPPENED, stream_id=stream, data={"label": "requested"})
    with transaction.atomic(), caused_by(request_event.id, correlation):
        reaction = publish(THING_HAPPENED, stream_id=stream, data={"label": "reacted"})
        sibling = publish(THING_HAPPENED, stream_id=f"{stream}-b", data={"label": "also"})
    with transaction.atomic(), caused_by(reaction.id, correlation):
        publish(THING_HAPPENED, stream_id=stream, data={"label": "reacted again"})

    tree = correlation_tree(correlation)
    assert tree["count"] == 4
    assert tree["request"]["method"] == "POST" and tree["request"]["path"] == "/api/things/"
    (root,) = tree["roots"]
    assert root["event"]["id"] == request_event.id
    assert [child["event"]["id"] for child in root["children"]] == [reaction.id, sibling.id]
    assert [grandchild["event"]["data"]["label"] for grandchild in root["children"][0]["children"]] == [
        "reacted again"
    ]
    assert root["offset_ms"] == 0 and all(child["after_cause_ms"] >= 0 for child in root["children"])

    page = staff_client.get(f"/explorer/correlation/{correlation}/")
    assert page.status_code == 200
    assert page.content.count(b'class="node src-test"') == 4
    assert b"POST /api/things/" in page.content
