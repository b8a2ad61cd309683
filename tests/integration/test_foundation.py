"""The foundation: health, correlation ids, schema, JSON errors."""

import uuid

import pytest
from django.db import transaction
from django.http import JsonResponse
from django.test import override_settings
from django.urls import path

from eventstore.bus import publish
from eventstore.reading import read_stream
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db


def record_something(request):
    stream_id = f"thing-{uuid.uuid4()}"
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "from a request"})
    return JsonResponse({"stream_id": stream_id, "correlation_id": str(request.correlation_id)})


urlpatterns = [path("record/", record_something)]


def test_health_reports_each_check(client):
    response = client.get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok" and body["checks"]["redis"] == "ok"
    assert isinstance(body["checks"]["relay_lag"], int)


@override_settings(ROOT_URLCONF=__name__)
def test_a_request_s_correlation_id_is_echoed_and_stamped_on_its_events(client):
    correlation = uuid.uuid4()
    response = client.get("/record/", HTTP_X_CORRELATION_ID=str(correlation), HTTP_USER_AGENT="pytest-agent")
    assert response["X-Correlation-ID"] == str(correlation)
    (event,) = read_stream(response.json()["stream_id"])
    assert event.correlation_id == correlation
    assert event.metadata["user_agent"] == "pytest-agent"
    assert event.metadata["path"] == "/record/"


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize("header", ["not-a-uuid", "", "x" * 500])
def test_a_correlation_id_that_is_not_a_uuid_is_replaced(client, header):
    response = client.get("/record/", HTTP_X_CORRELATION_ID=header)
    echoed = uuid.UUID(response["X-Correlation-ID"])
    assert str(echoed) != header
    (event,) = read_stream(response.json()["stream_id"])
    assert event.correlation_id == echoed


def test_unknown_api_url_is_json_404(client):
    response = client.get("/api/nothing-here/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_openapi_schema_is_served(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "/api/events/" in response.json()["paths"]
