"""Fixtures shared by every test layer."""

import pytest


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def make_user(db):
    """Create a user straight in the user table (for tests of other apps)."""
    from django.contrib.auth import get_user_model

    counter = {"n": 0}

    def make(username: str | None = None, **extra):
        counter["n"] += 1
        import uuid

        username = username or f"user{uuid.uuid4().hex[:10]}"
        extra.setdefault("email", f"{username}@example.com")
        return get_user_model().objects.create_user(username=username, password="a-Long-pass-123", **extra)

    return make
