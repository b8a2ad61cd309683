"""Fixtures of the monitoring pages: signed-in staff and member clients, events to look at."""

import uuid

import pytest
from django.db import transaction
from django.test import Client

from eventstore.bus import publish
from tests.sample_events import THING_HAPPENED


@pytest.fixture
def staff_client(make_user):
    client = Client()
    client.force_login(make_user(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def member_client(make_user):
    client = Client()
    client.force_login(make_user())
    return client


@pytest.fixture
def thing_stream():
    """A fresh stream of test events; publish(label, **data) appends one and returns it."""
    stream_id = f"thing-{uuid.uuid4().hex[:10]}"

    def append(label: str, size: int = 0):
        with transaction.atomic():
            return publish(THING_HAPPENED, stream_id=stream_id, data={"label": label, "size": size})

    append.stream_id = stream_id
    return append
