"""No event, event metadata or log line ever holds a password; every auth event carries its request's id."""

import logging
import uuid

import orjson
import pytest

from eventstore.reading import read_correlation, read_stream
from tests.integration.auth.helpers import fresh_username

pytestmark = pytest.mark.django_db
SECRET = "Unmistakable-Secret-7f3a9c"
NEW_SECRET = "Another-Unmistakable-Secret-2b8e"


def test_a_whole_account_lifecycle_leaks_no_password(client_from_fresh_ip, caplog):
    caplog.set_level(logging.DEBUG)
    client = client_from_fresh_ip()
    username = fresh_username()
    steps = []

    def call(path, body=None, expected=None):
        correlation_id = uuid.uuid4()
        response = client.post(path, body or {}, format="json", HTTP_X_CORRELATION_ID=str(correlation_id))
        assert response.status_code == expected, (path, response.content)
        assert SECRET not in response.content.decode() and NEW_SECRET not in response.content.decode()
        steps.append(correlation_id)
        return response

    call(
        "/api/auth/register/",
        {"username": username, "email": f"{username}@example.com", "password": SECRET},
        201,
    )
    call("/api/auth/login/", {"username": username, "password": NEW_SECRET}, 401)
    token = call("/api/auth/login/", {"username": username, "password": SECRET}, 200).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    call("/api/auth/password/", {"old_password": NEW_SECRET, "new_password": SECRET}, 400)
    call("/api/auth/password/", {"old_password": SECRET, "new_password": "short"}, 400)
    call("/api/auth/password/", {"old_password": SECRET, "new_password": NEW_SECRET}, 204)
    call("/api/auth/logout/", expected=204)
    events = [event for correlation_id in steps for event in read_correlation(correlation_id)]
    assert {e.type for e in events} >= {
        "user:created",
        "auth:failed_login_attempt",
        "auth:login",
        "auth:password_change",
        "auth:logout",
    }
    for event in events:
        stored = orjson.dumps({"data": event.data, "metadata": event.metadata}).decode()
        assert SECRET not in stored and NEW_SECRET not in stored
        assert token not in stored
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.__dict__!r}" for r in caplog.records)
    assert caplog.records, "the requests should have logged something (4xx warnings at least)"
    assert SECRET not in logged and NEW_SECRET not in logged and token not in logged


def test_every_event_of_a_request_carries_its_correlation_id(api, account, login):
    login(api, account.username, "wrong", uuid.uuid4())
    for _ in range(3):
        login(api, account.username, "wrong")
    correlation_id = uuid.uuid4()
    response = login(api, account.username, "wrong", correlation_id)  # the locking attempt: two events
    assert response["X-Correlation-ID"] == str(correlation_id)
    last_two = read_stream(account.stream_id)[-2:]
    assert [e.type for e in last_two] == ["auth:failed_login_attempt", "auth:account_locked"]
    assert {e.correlation_id for e in last_two} == {correlation_id}
    assert {e.causation_id for e in last_two} == {correlation_id}  # both caused by the request
