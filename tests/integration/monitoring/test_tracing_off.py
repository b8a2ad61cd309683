"""Tracing is off unless an OTLP endpoint is configured: nothing is recorded, events carry no trace context."""

import pytest
from django.db import transaction

from eventstore import tracing
from eventstore.bus import publish
from monitoring_app.tracing import configure
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db


def test_without_an_endpoint_nothing_is_installed_and_events_carry_no_trace_context(settings):
    settings.TRACING_OTLP_ENDPOINT = ""
    assert configure() is False
    assert not tracing.enabled()
    with transaction.atomic():
        event = publish(THING_HAPPENED, stream_id="traced-1", data={"label": "x"})
    assert tracing.TRACEPARENT not in event.metadata
