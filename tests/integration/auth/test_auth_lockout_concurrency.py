"""The lock holds under concurrent attempts: exactly 5 passwords are checked, the rest refused."""

import threading

import pytest
from django.db import connection
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
