"""Logout and password change end sessions (API.md, Accounts: POST logout/, POST password/)."""

import uuid

import pytest
from knox.models import AuthToken

from eventstore.reading import read_correlation, read_stream
from tests.integration.auth.helpers import STRONG_PASSWORD

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "another-Quite-long-phrase-77"


def test_logout_ends_that_token_only_and_records_the_session_duration(account, token_client):
    phone, laptop = token_client(account), token_client(account)
    [login_event, _] = [e for e in read_stream(account.stream_id) if e.type == "auth:login"]
    correlation_id = uuid.uuid4()
    response = phone.post("/api/auth/logout/", HTTP_X_CORRELATION_ID=str(correlation_id))
    assert response.status_code == 204
    assert phone.get("/api/auth/me/").status_code == 401
    assert phone.post("/api/auth/logout/").status_code == 401
    assert laptop.get("/api/auth/me/").status_code == 200
    [logout] = read_correlation(correlation_id)
    assert logout.type == "auth:logout" and logout.stream_id == account.stream_id
    assert logout.data["session_id"] == login_event.data["session_id"]
    assert logout.data["method"] == "token" and logout.data["reason"] == "logout"
    assert logout.data["session_duration_seconds"] >= 0


def test_logout_without_credentials_is_401_and_records_nothing(api):
    correlation_id = uuid.uuid4()
    assert api.post("/api/auth/logout/", HTTP_X_CORRELATION_ID=str(correlation_id)).status_code == 401
    assert read_correlation(correlation_id) == []


def test_password_change_keeps_this_token_and_revokes_the_others(account, token_client, login, api):
    current, other = token_client(account), token_client(account)
    correlation_id = uuid.uuid4()
    response = current.post(
        "/api/auth/password/",
        {"old_password": account.password, "new_password": NEW_PASSWORD},
        format="json",
        HTTP_X_CORRELATION_ID=str(correlation_id),
    )
    assert response.status_code == 204
    assert current.get("/api/auth/me/").status_code == 200
    assert other.get("/api/auth/me/").status_code == 401
    assert AuthToken.objects.filter(user=account.user).count() == 1
    assert login(api, account.username, account.password).status_code == 401
    assert login(api, account.username, NEW_PASSWORD).status_code == 200
    revoked, changed = read_correlation(correlation_id)
    assert (revoked.type, revoked.data["reason"]) == ("auth:logout", "password_change")
    assert changed.type == "auth:password_change"
    assert changed.data == {"user_id": account.user.pk, "revoked_sessions": 1}
    assert {revoked.stream_id, changed.stream_id} == {account.stream_id}


def test_wrong_old_password_is_a_field_error_recorded_as_a_failed_attempt(account, token_client):
    client = token_client(account)
    correlation_id = uuid.uuid4()
    response = client.post(
        "/api/auth/password/",
        {"old_password": "not-it", "new_password": NEW_PASSWORD},
        format="json",
        HTTP_X_CORRELATION_ID=str(correlation_id),
    )
    assert response.status_code == 400
    assert set(response.json()) == {"old_password"}
    [guess] = read_correlation(correlation_id)
    assert (guess.type, guess.stream_id) == ("auth:failed_login_attempt", account.stream_id)
    assert guess.data["reason"] == "wrong_password" and guess.metadata["path"] == "/api/auth/password/"
    assert "not-it" not in str(guess.data) + str(guess.metadata)
    account.user.refresh_from_db()
    assert account.user.check_password(STRONG_PASSWORD)


@pytest.mark.parametrize("new_password", ["short", "password1", "98765432123"])
def test_new_password_rejected_by_validators_is_a_field_error(account, token_client, new_password):
    client = token_client(account)
    correlation_id = uuid.uuid4()
    response = client.post(
        "/api/auth/password/",
        {"old_password": account.password, "new_password": new_password},
        format="json",
        HTTP_X_CORRELATION_ID=str(correlation_id),
    )
    assert response.status_code == 400
    assert set(response.json()) == {"new_password"}
    assert read_correlation(correlation_id) == []


def test_password_change_needs_a_signed_in_user(api):
    response = api.post("/api/auth/password/", {"old_password": "a", "new_password": "b"}, format="json")
    assert response.status_code == 401


def test_password_change_over_a_browser_session_keeps_that_session(account, client):
    client.force_login(account.user)
    response = client.post(
        "/api/auth/password/",
        {"old_password": account.password, "new_password": NEW_PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 204
    assert client.get("/api/auth/me/").status_code == 200


def test_guesses_at_the_old_password_count_towards_the_login_lockout(account, token_client, login, api):
    """A stolen session cannot guess the password faster than the login form can."""
    client = token_client(account)
    guesses = [
        client.post(
            "/api/auth/password/", {"old_password": f"guess-{n}", "new_password": NEW_PASSWORD}, format="json"
        ).status_code
        for n in range(6)
    ]
    assert guesses == [400] * 5 + [429]
    # The account is locked for logins too, and even the right old password is refused now.
    assert login(api, account.username, account.password).status_code == 429
    response = client.post(
        "/api/auth/password/", {"old_password": account.password, "new_password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    account.user.refresh_from_db()
    assert account.user.check_password(STRONG_PASSWORD)
    reasons = [
        e.data["reason"] for e in read_stream(account.stream_id) if e.type == "auth:failed_login_attempt"
    ]
    assert reasons == ["wrong_password"] * 5 + ["locked"] * 3
