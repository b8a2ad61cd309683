"""Login with API tokens (API.md, Accounts: POST login/, GET me/)."""

import uuid

import pytest
from knox.models import AuthToken

from auth_app import lockout
from eventstore.reading import read_correlation, read_stream
from tests.integration.auth.helpers import COUNTING_HASHER, CountingMD5PasswordHasher, fresh_username

pytestmark = pytest.mark.django_db


def test_login_returns_a_token_and_records_auth_login_without_the_token(api, account, login):
    correlation_id = uuid.uuid4()
    response = login(api, account.username, account.password, correlation_id)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["user"] == {"id": account.user.pk, "username": account.username}
    token = body["token"]
    [event] = [e for e in read_stream(account.stream_id) if e.type == "auth:login"]
    assert event.correlation_id == correlation_id
    [stored_token] = AuthToken.objects.filter(user=account.user)
    assert event.data == {
        "user_id": account.user.pk,
        "username": account.username,
        "method": "token",
        "session_id": stored_token.digest[:16],
        "ip": api.defaults["REMOTE_ADDR"],
        "user_agent": "pytest-agent/1.0",
    }
    assert token not in str(event.data) and token not in str(event.metadata)
    assert [e.type for e in read_correlation(correlation_id)] == ["auth:login"]


def test_token_authenticates_me(api, account, token_client):
    response = token_client(account).get("/api/auth/me/")
    assert response.status_code == 200
    assert response.json() == {
        "id": account.user.pk,
        "username": account.username,
        "email": account.user.email,
        "is_moderator": False,
    }


def test_me_without_credentials_is_401(api):
    assert api.get("/api/auth/me/").status_code == 401
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert api.get("/api/auth/me/").status_code == 401


def test_each_login_gets_its_own_token(api, account, login):
    first = login(api, account.username, account.password).json()["token"]
    second = login(api, account.username, account.password).json()["token"]
    assert first != second
    assert AuthToken.objects.filter(user=account.user).count() == 2


def test_wrong_password_is_401_and_records_a_failed_attempt_on_the_user_stream(api, account, login):
    correlation_id = uuid.uuid4()
    response = login(api, account.username, "not-the-password", correlation_id)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid username or password."}
    [event] = read_correlation(correlation_id)
    assert (event.type, event.stream_id) == ("auth:failed_login_attempt", account.stream_id)
    assert event.data == {
        "username": account.username,
        "username_key": lockout.username_key(account.username),
        "ip": api.defaults["REMOTE_ADDR"],
        "reason": "wrong_password",
        "sealed_for": None,
    }
    assert not AuthToken.objects.filter(user=account.user).exists()


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(api, account, login):
    wrong_password = login(api, account.username, "not-the-password")
    correlation_id = uuid.uuid4()
    unknown = fresh_username("Ghost")
    unknown_user = login(api, unknown, "not-the-password", correlation_id)
    assert unknown_user.status_code == wrong_password.status_code == 401
    assert unknown_user.json() == wrong_password.json()
    assert unknown_user["WWW-Authenticate"] == wrong_password["WWW-Authenticate"]
    [event] = read_correlation(correlation_id)
    # The stream id is a keyed hash of the name: what was typed is only in the sealed data.
    assert event.stream_id == f"login-{lockout.username_key(unknown)}"
    assert unknown.lower() not in event.stream_id
    assert event.data["reason"] == "unknown_user" and event.data["username"] == unknown


def test_unknown_user_costs_the_same_password_hashing_as_a_wrong_password(api, make_account, login, settings):
    # No clock: the cost of an attempt is its password hashing, so count the hashes.
    settings.PASSWORD_HASHERS = [COUNTING_HASHER]
    account = make_account()
    CountingMD5PasswordHasher.calls = 0
    login(api, account.username, "not-the-password")
    wrong_password_hashes = CountingMD5PasswordHasher.calls
    CountingMD5PasswordHasher.calls = 0
    login(api, fresh_username(), "not-the-password")
    assert CountingMD5PasswordHasher.calls == wrong_password_hashes >= 1


def test_inactive_user_cannot_log_in_and_gets_the_same_answer(api, account, login):
    account.user.is_active = False
    account.user.save()
    correlation_id = uuid.uuid4()
    response = login(api, account.username, account.password, correlation_id)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid username or password."}
    [event] = read_correlation(correlation_id)
    assert event.data["reason"] == "inactive_user"


@pytest.mark.parametrize(
    "body", [{}, {"username": "someone"}, {"password": "x"}, {"username": "u" * 151, "password": "x"}]
)
def test_malformed_login_is_400_and_records_nothing(api, body):
    correlation_id = uuid.uuid4()
    response = api.post("/api/auth/login/", body, format="json", HTTP_X_CORRELATION_ID=str(correlation_id))
    assert response.status_code == 400
    assert read_correlation(correlation_id) == []


def test_a_stale_token_header_does_not_block_a_fresh_login(api, account, login):
    api.credentials(HTTP_AUTHORIZATION="Token revoked-long-ago")
    assert login(api, account.username, account.password).status_code == 200
