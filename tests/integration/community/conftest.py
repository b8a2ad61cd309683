"""Fixtures of the community tests: users with roles, signed-in clients, posts made by the services."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from community_app import services
from eventstore.reading import read_stream


@pytest.fixture
def author(make_user):
    return make_user()


@pytest.fixture
def stranger(make_user):
    return make_user()


@pytest.fixture
def moderator(make_user):
    """A moderator by group membership (not staff)."""
    user = make_user()
    group, _ = Group.objects.get_or_create(name="moderators")
    user.groups.add(group)
    return user


@pytest.fixture
def client_for():
    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def make_post(author):
    def make(title: str = "A title", body: str = "A body", by=None):
        return services.post_create(author=by or author, title=title, body=body)

    return make


@pytest.fixture
def stream_types():
    """The types of a stream's events, in order."""

    def types(stream_id: str) -> list[str]:
        return [event.type for event in read_stream(stream_id)]

    return types
