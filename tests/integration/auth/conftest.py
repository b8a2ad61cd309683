"""Fixtures of the accounts tests: clients from fresh ips, users registered through the service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from auth_app.services import user_register
from tests.integration.auth.helpers import STRONG_PASSWORD, fresh_ip, fresh_username


@dataclass
class Account:
    user: object
    password: str

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def stream_id(self) -> str:
        return f"user-{self.user.pk}"


@pytest.fixture
def client_from_fresh_ip():
    def make(ip: str | None = None) -> APIClient:
        return APIClient(REMOTE_ADDR=ip or fresh_ip(), HTTP_USER_AGENT="pytest-agent/1.0")

    return make


@pytest.fixture
def api(client_from_fresh_ip) -> APIClient:
    return client_from_fresh_ip()


@pytest.fixture
def make_account(db):
    def make(password: str = STRONG_PASSWORD, **extra) -> Account:
        username = extra.pop("username", None) or fresh_username()
        email = extra.pop("email", None) or f"{username}@example.com"
        return Account(user_register(username=username, email=email, password=password, **extra), password)

    return make


@pytest.fixture
def account(make_account) -> Account:
    return make_account()


@pytest.fixture
def login():
    """POST the login endpoint with a correlation id; returns the response."""

    def post(client: APIClient, username: str, password: str, correlation_id: uuid.UUID | None = None):
        return client.post(
            "/api/auth/login/",
            {"username": username, "password": password},
            format="json",
            HTTP_X_CORRELATION_ID=str(correlation_id or uuid.uuid4()),
        )

    return post


@pytest.fixture
def token_client(client_from_fresh_ip, login):
    """A client signed in with a fresh API token for the account."""

    def make(account: Account) -> APIClient:
        client = client_from_fresh_ip()
        response = login(client, account.username, account.password)
        assert response.status_code == 200, response.json()
        client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
        client.token = response.json()["token"]
        return client

    return make
