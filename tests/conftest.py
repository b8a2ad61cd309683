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

    def make(username: str | None = None, **extra):
        import uuid

        username = username or f"user{uuid.uuid4().hex[:10]}"
        extra.setdefault("email", f"{username}@example.com")
        return get_user_model().objects.create_user(username=username, password="a-Long-pass-123", **extra)

    return make


def wait_until_followable(position: int, timeout: float = 15.0) -> None:
    """Wait until gap-safe readers can see `position`.

    Any writing transaction still open in the test database holds the horizon
    back (by design, see docs/eventstore.md); that can take a moment even after
    our own commit.
    """
    import time

    from eventstore.reading import horizon

    deadline = time.monotonic() + timeout
    while horizon() <= position:
        if time.monotonic() > deadline:
            raise AssertionError(f"position {position} still behind the horizon after {timeout} s")
        time.sleep(0.01)


@pytest.fixture(scope="session", autouse=True)
def _empty_test_redis():
    """Start every run with an empty test Redis database (rate-limit counters, streams, queues)."""
    from platform_site.redis_connection import get_redis

    get_redis().flushdb()
