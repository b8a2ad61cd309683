"""API tokens expire after a configurable time without use, and a user can sign out everywhere."""

import datetime as dt
import uuid

import pytest
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken

from eventstore.reading import read_correlation, read_stream

pytestmark = pytest.mark.django_db


def _token_row(account) -> AuthToken:
    return AuthToken.objects.filter(user=account.user).latest("created")


def test_tokens_get_an_expiry_from_the_configured_ttl(account, token_client, settings):
    token_client(account)
    row = _token_row(account)
    ttl = settings.REST_KNOX["TOKEN_TTL"]
    assert ttl is not None and row.expiry is not None
    assert abs((row.expiry - row.created) - ttl) < dt.timedelta(seconds=5)


def test_using_a_token_pushes_its_expiry_out(account, token_client, settings):
    client = token_client(account)
    row = _token_row(account)
    # As if it were last used long ago: a use now renews it to a full TTL from now.
    AuthToken.objects.filter(digest=row.digest).update(expiry=timezone.now() + dt.timedelta(minutes=5))
    assert client.get("/api/auth/me/").status_code == 200
    renewed = AuthToken.objects.get(digest=row.digest).expiry
    assert renewed > timezone.now() + settings.REST_KNOX["TOKEN_TTL"] - dt.timedelta(minutes=1)


def test_an_expired_token_is_refused_deleted_and_its_session_recorded_as_ended(account, token_client):
    client = token_client(account)
    row = _token_row(account)
    AuthToken.objects.filter(digest=row.digest).update(expiry=timezone.now() - dt.timedelta(seconds=1))
    correlation_id = uuid.uuid4()
    assert client.get("/api/auth/me/", HTTP_X_CORRELATION_ID=str(correlation_id)).status_code == 401
    assert not AuthToken.objects.filter(digest=row.digest).exists()
    [ended] = read_correlation(correlation_id)
    assert (ended.type, ended.data["reason"], ended.data["method"]) == ("auth:logout", "expired", "token")


def test_logout_all_ends_every_token_and_browser_session_of_the_user_only(
    account, make_account, token_client
):
    phone, laptop = token_client(account), token_client(account)
    browser = Client()
    browser.force_login(account.user)
    bystander = make_account()
    bystander_client = token_client(bystander)
    correlation_id = uuid.uuid4()
    response = phone.post("/api/auth/logout/all/", HTTP_X_CORRELATION_ID=str(correlation_id))
    assert response.status_code == 204
    assert phone.get("/api/auth/me/").status_code == 401
    assert laptop.get("/api/auth/me/").status_code == 401
    assert browser.get("/api/auth/me/").status_code in (401, 403)
    assert bystander_client.get("/api/auth/me/").status_code == 200
    ended = read_correlation(correlation_id)
    assert sorted((e.data["method"], e.data["reason"]) for e in ended) == [
        ("session", "logout_all"),
        ("token", "logout_all"),
        ("token", "logout_all"),
    ]
    assert {e.stream_id for e in ended} == {account.stream_id}


def test_logout_all_from_a_browser_signs_that_browser_out_too(account):
    browser = Client()
    browser.force_login(account.user)
    before = len(read_stream(account.stream_id))
    assert browser.post("/api/auth/logout/all/").status_code == 204
    assert browser.get("/api/auth/me/").status_code in (401, 403)
    logouts = [e for e in read_stream(account.stream_id)[before:] if e.type == "auth:logout"]
    assert len(logouts) == 1  # recorded once, not again by Django's logout signal
