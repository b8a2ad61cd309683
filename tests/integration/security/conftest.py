"""Fixtures of the security tests: users in every role, clients for them, correlation-tagged calls."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import Group
from knox.models import AuthToken
from rest_framework.test import APIClient

from eventstore.reading import read_correlation


@pytest.fixture
def moderator(make_user):
    user = make_user()
    user.groups.add(Group.objects.get_or_create(name="moderators")[0])
    return user


@pytest.fixture
def staff(make_user):
    return make_user(is_staff=True, is_superuser=True)


@pytest.fixture
def token_client():
    """A client sending `Authorization: Token ...` for `user` (a real knox token, as clients do)."""

    def make(user) -> APIClient:
        client = APIClient()
        _, token = AuthToken.objects.create(user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client

    return make


@pytest.fixture
def traced():
    """Call `send(**headers)` with a fresh correlation id; return (response, types of events it recorded).

    read_correlation has no gap-safe horizon, so it sees this test's uncommitted events.
    """

    def call(send):
        correlation_id = uuid.uuid4()
        response = send(HTTP_X_CORRELATION_ID=str(correlation_id))
        return response, [event.type for event in read_correlation(correlation_id)]

    return call
