"""The staff-only /api/events/ endpoints (API.md, "Events")."""

import uuid

import pytest
from django.db import transaction

from eventstore.bus import publish
from eventstore.context import caused_by, event_context
from tests.conftest import wait_until_followable
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff_client(api_client, make_user):
    api_client.force_authenticate(make_user(is_staff=True))
    return api_client


@pytest.fixture
def chain():
    """A request's event and one caused by it, committed."""
    correlation = uuid.uuid4()
    stream_id = f"thing-{uuid.uuid4()}"
    with event_context(correlation_id=correlation), transaction.atomic():
        cause = publish(THING_HAPPENED, stream_id=stream_id, data={"label": "cause"})
    with caused_by(cause.id, correlation), transaction.atomic():
        effect = publish(THING_HAPPENED, stream_id=stream_id, data={"label": "effect"})
    wait_until_followable(effect.position)
    return cause, effect


@pytest.mark.parametrize(
    "path",
    [
        "/api/events/",
        "/api/events/streams/thing-x/",
        "/api/events/correlation/3f2b8c1e-5d47-4a06-9c1b-7e0d2a6f4b95/",
    ],
)
def test_non_staff_are_refused(api_client, make_user, path):
    assert api_client.get(path).status_code in (401, 403)
    api_client.force_authenticate(make_user())
    assert api_client.get(path).status_code == 403


def test_list_pages_through_the_log_in_position_order(staff_client, chain):
    cause, effect = chain
    response = staff_client.get("/api/events/", {"stream_id": cause.stream_id, "limit": 1})
    assert response.status_code == 200
    page = response.json()
    assert [e["id"] for e in page["results"]] == [str(cause.id)]
    assert page["next_after"] == cause.position
    page2 = staff_client.get(
        "/api/events/", {"stream_id": cause.stream_id, "after": page["next_after"]}
    ).json()
    assert [e["id"] for e in page2["results"]] == [str(effect.id)]
    envelope = page2["results"][0]
    assert set(envelope) == {
        "id", "position", "stream_id", "stream_version", "type", "schema_version", "data", "metadata",
        "source", "correlation_id", "causation_id", "recorded_at",
    }  # fmt: skip
    assert envelope["causation_id"] == str(cause.id)


def test_list_filters_by_type_source_and_correlation(staff_client, chain):
    cause, _ = chain
    by_correlation = staff_client.get("/api/events/", {"correlation_id": str(cause.correlation_id)}).json()
    assert len(by_correlation["results"]) == 2
    other = staff_client.get("/api/events/", {"correlation_id": str(cause.correlation_id), "source": "auth"})
    assert other.json()["results"] == []
    by_type = staff_client.get(
        "/api/events/", {"correlation_id": str(cause.correlation_id), "type": THING_HAPPENED.name}
    )
    assert len(by_type.json()["results"]) == 2


def test_bad_query_parameters_are_400(staff_client):
    assert staff_client.get("/api/events/", {"after": "-1"}).status_code == 400
    assert staff_client.get("/api/events/", {"limit": "100000"}).status_code == 400
    assert staff_client.get("/api/events/", {"correlation_id": "not-a-uuid"}).status_code == 400


def test_stream_and_correlation_views(staff_client, chain):
    cause, effect = chain
    stream = staff_client.get(f"/api/events/streams/{cause.stream_id}/").json()
    assert [e["stream_version"] for e in stream] == [1, 2]
    tree = staff_client.get(f"/api/events/correlation/{cause.correlation_id}/").json()
    assert [e["id"] for e in tree["results"]] == [str(cause.id), str(effect.id)]
    assert tree["results"][0]["caused"] == [str(effect.id)]
