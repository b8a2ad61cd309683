"""Authenticating an API token reads the token (with its user) once, however many tokens the user has."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken

pytestmark = pytest.mark.django_db


def authenticated_get(api_client, token: str):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    with CaptureQueriesContext(connection) as queries:
        response = api_client.get("/api/auth/me/")
    return response, [q["sql"] for q in queries.captured_queries]


def test_a_token_is_checked_with_one_query_whatever_the_number_of_the_user_s_tokens(api_client, make_user):
    user = make_user()
    _, token = AuthToken.objects.create(user)
    _, few_queries = authenticated_get(api_client, token)
    for _ in range(25):
        AuthToken.objects.create(user)  # 25 more sign-ins
    response, many_queries = authenticated_get(api_client, token)
    assert response.status_code == 200
    assert len(many_queries) == len(few_queries)
    assert sum("knox_authtoken" in sql for sql in many_queries) == 1


def test_an_expired_token_is_refused_and_deleted(api_client, make_user):
    user = make_user()
    instance, token = AuthToken.objects.create(user, expiry=timedelta(hours=1))
    AuthToken.objects.filter(pk=instance.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    response, _ = authenticated_get(api_client, token)
    assert response.status_code == 401
    assert not AuthToken.objects.filter(pk=instance.pk).exists()
