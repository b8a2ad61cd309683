"""Registration (API.md, Accounts: POST register/)."""

import uuid

import pytest
from django.contrib.auth import get_user_model

from eventstore.reading import read_correlation, read_stream
from tests.integration.auth.helpers import STRONG_PASSWORD, fresh_username

pytestmark = pytest.mark.django_db


def register(client, correlation_id=None, **body):
    return client.post(
        "/api/auth/register/", body, format="json", HTTP_X_CORRELATION_ID=str(correlation_id or uuid.uuid4())
    )


def test_registration_creates_the_user_and_records_user_created_with_the_correlation_id(api):
    username = fresh_username()
    correlation_id = uuid.uuid4()
    response = register(
        api, correlation_id, username=username, email=f"{username}@Example.COM", password=STRONG_PASSWORD
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    user = get_user_model().objects.get(username=username)
    assert body == {"id": user.pk, "username": username, "email": f"{username}@example.com"}
    assert user.check_password(STRONG_PASSWORD)
    assert response["X-Correlation-ID"] == str(correlation_id)
    [created] = read_stream(f"user-{user.pk}")
    assert created.type == "user:created"
    assert created.data == {"user_id": user.pk, "username": username, "email": f"{username}@example.com"}
    assert created.correlation_id == correlation_id
    assert created.metadata["ip"] == api.defaults["REMOTE_ADDR"]


@pytest.mark.parametrize("variant", [str.upper, str.title])
def test_duplicate_username_ignoring_case_is_a_field_error_and_records_nothing(api, account, variant):
    correlation_id = uuid.uuid4()
    response = register(
        api,
        correlation_id,
        username=variant(account.username),
        email="other@example.com",
        password=STRONG_PASSWORD,
    )
    assert response.status_code == 400
    assert "username" in response.json()
    assert read_correlation(correlation_id) == []


def test_duplicate_email_ignoring_case_is_a_field_error_and_records_nothing(api, account):
    correlation_id = uuid.uuid4()
    response = register(
        api,
        correlation_id,
        username=fresh_username(),
        email=account.user.email.upper(),
        password=STRONG_PASSWORD,
    )
    assert response.status_code == 400
    assert set(response.json()) == {"email"}
    assert read_correlation(correlation_id) == []


@pytest.mark.parametrize(
    "password",
    ["short1", "password123", "12345678901234", "{username}"],
    ids=["too-short", "too-common", "all-digits", "same-as-username"],
)
def test_password_rejected_by_django_validators_is_a_field_error_and_records_nothing(api, password):
    username = fresh_username()
    correlation_id = uuid.uuid4()
    response = register(
        api,
        correlation_id,
        username=username,
        email=f"{username}@example.com",
        password=password.format(username=username),
    )
    assert response.status_code == 400
    assert set(response.json()) == {"password"}
    assert not get_user_model().objects.filter(username=username).exists()
    assert read_correlation(correlation_id) == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "no email", "password": STRONG_PASSWORD},
        {"username": "has spaces", "email": "a@example.com", "password": STRONG_PASSWORD},
        {"username": "x" * 151, "email": "a@example.com", "password": STRONG_PASSWORD},
        {"username": "valid_name", "email": "not-an-email", "password": STRONG_PASSWORD},
        {"username": ["a"], "email": {"b": 1}, "password": None},
    ],
)
def test_malformed_registration_is_400_and_records_nothing(api, body):
    correlation_id = uuid.uuid4()
    response = register(api, correlation_id, **body)
    assert response.status_code == 400
    assert read_correlation(correlation_id) == []


def test_registration_is_rate_limited_per_ip(client_from_fresh_ip, settings):
    settings.AUTH_REGISTER_THROTTLE_RATE = "2/min"
    client = client_from_fresh_ip()

    def attempt(c):
        name = fresh_username()
        return register(c, username=name, email=f"{name}@example.com", password=STRONG_PASSWORD)

    assert [attempt(client).status_code for _ in range(3)] == [201, 201, 429]
    assert attempt(client_from_fresh_ip()).status_code == 201  # another ip has its own budget
