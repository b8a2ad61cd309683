"""The lock holds under concurrent attempts: exactly 5 passwords are checked, the rest refused."""

import threading

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from auth_app.services import user_register
from eventstore.reading import read_stream
from tests.integration.auth.helpers import STRONG_PASSWORD, fresh_ip, fresh_username


@pytest.mark.django_db(transaction=True)
def test_concurrent_wrong_passwords_check_at_most_five_before_the_lock():
    username = fresh_username()
    user = user_register(username=username, email=f"{username}@example.com", password=STRONG_PASSWORD)
    statuses: list[int] = []
    start = threading.Barrier(10)

    def attempt():
        try:
            client = APIClient(REMOTE_ADDR=fresh_ip())
            start.wait()
            response = client.post(
                "/api/auth/login/", {"username": username, "password": "wrong"}, format="json"
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [401] * 5 + [429] * 5
    reasons = [
        e.data["reason"] for e in read_stream(f"user-{user.pk}") if e.type == "auth:failed_login_attempt"
    ]
    assert sorted(reasons) == ["locked"] * 5 + ["wrong_password"] * 5
    # In stream order the five checked attempts come first: the log tells the story as it happened.
    assert reasons == ["wrong_password"] * 5 + ["locked"] * 5


def _parallel(posts) -> list[int]:
    """Run the `posts` (callables returning a status) at once, each in its own thread."""
    statuses: list[int] = []
    start = threading.Barrier(len(posts))

    def run(post):
        try:
            start.wait()
            statuses.append(post())
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(post,)) for post in posts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def _checked_passwords(user) -> int:
    return sum(
        1
        for e in read_stream(f"user-{user.pk}")
        if e.type == "auth:failed_login_attempt" and e.data["reason"] == "wrong_password"
    )


def _admin_post(username: str):
    def post() -> int:
        client = Client(REMOTE_ADDR=fresh_ip())
        return client.post(
            "/admin/login/?next=/admin/", {"username": username, "password": "wrong"}
        ).status_code

    return post


def _api_post(username: str):
    def post() -> int:
        client = APIClient(REMOTE_ADDR=fresh_ip())
        return client.post(
            "/api/auth/login/", {"username": username, "password": "wrong"}, format="json"
        ).status_code

    return post


@pytest.mark.django_db(transaction=True)
def test_sixteen_parallel_admin_logins_check_at_most_five_passwords():
    username = fresh_username()
    user = user_register(
        username=username, email=f"{username}@example.com", password=STRONG_PASSWORD, is_staff=True
    )
    statuses = _parallel([_admin_post(username) for _ in range(16)])
    assert statuses == [200] * 16  # the admin answers its form again, with the error
    assert _checked_passwords(user) == 5


@pytest.mark.django_db(transaction=True)
def test_admin_and_api_logins_in_parallel_share_one_lock_and_one_count():
    username = fresh_username()
    user = user_register(
        username=username, email=f"{username}@example.com", password=STRONG_PASSWORD, is_staff=True
    )
    statuses = _parallel([_admin_post(username) for _ in range(8)] + [_api_post(username) for _ in range(8)])
    assert len(statuses) == 16
    assert _checked_passwords(user) == 5
    reasons = [
        e.data["reason"] for e in read_stream(f"user-{user.pk}") if e.type == "auth:failed_login_attempt"
    ]
    assert reasons == ["wrong_password"] * 5 + ["locked"] * 11
