"""Browser-session requests need a CSRF token; pages carry the security headers production sets."""

from __future__ import annotations

import runpy

import pytest
from django.middleware.csrf import get_token
from django.test import Client, override_settings
from rest_framework.test import APIClient

from tests.integration.security.production_env import production_env

pytestmark = pytest.mark.django_db

POST = {"title": "csrf", "body": "A post."}


@pytest.fixture
def session_client(make_user):
    """A browser signed in with a session cookie, with Django's CSRF checks on (as real browsers get)."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(make_user())
    return client


def _csrf_token(client) -> str:
    response = client.get("/admin/login/")  # any page that sets the CSRF cookie
    return (
        response.cookies["csrftoken"].value
        if "csrftoken" in response.cookies
        else get_token(response.wsgi_request)
    )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/posts/", POST),
        ("/api/auth/logout/", {}),
        ("/api/auth/password/", {"old_password": "x", "new_password": "y"}),
    ],
)
def test_a_session_post_without_csrf_token_is_refused(session_client, traced, path, body):
    response, recorded = traced(lambda **h: session_client.post(path, body, format="json", **h))
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert recorded == []


def test_a_session_post_with_the_csrf_token_goes_through(session_client):
    token = _csrf_token(session_client)
    response = session_client.post("/api/posts/", POST, format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201


def test_token_clients_need_no_csrf_token(make_user, token_client):
    # A token is not sent by the browser on its own, so a cross-site page cannot ride on it.
    client = token_client(make_user())
    client.enforce_csrf_checks = True
    assert client.post("/api/posts/", POST, format="json").status_code == 201


def test_the_admin_login_form_needs_a_csrf_token(staff):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post("/admin/login/", {"username": staff.username, "password": "a-Long-pass-123"})
    assert response.status_code == 403


def _production_security_settings() -> dict:
    """The security settings of platform_site.settings.production, read by running the module."""
    import os

    saved = dict(os.environ)
    os.environ.update(production_env())
    try:
        module = runpy.run_module("platform_site.settings.production")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    names = [
        name for name in module if name.startswith(("SECURE_", "SESSION_COOKIE_", "CSRF_COOKIE_", "X_FRAME"))
    ]
    return {name: module[name] for name in names}


@pytest.mark.parametrize("path", ["/api/posts/", "/admin/login/", "/health/", "/api/schema/"])
def test_production_security_headers_on_every_kind_of_page(path):
    with override_settings(**_production_security_settings()):
        response = Client().get(path, secure=True)
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_production_redirects_plain_http_to_https_except_health():
    with override_settings(**_production_security_settings()):
        api = Client().get("/api/posts/")
        health = Client().get("/health/")
    assert api.status_code == 301
    assert api["Location"].startswith("https://")
    assert health.status_code in (200, 503)


def test_production_cookies_are_secure_and_http_only(staff):
    with override_settings(**_production_security_settings()):
        browser = Client()
        response = browser.post(
            "/admin/login/?next=/admin/",
            {"username": staff.username, "password": "a-Long-pass-123"},
            secure=True,
        )
    session = response.cookies["sessionid"]
    assert session["secure"] and session["httponly"]
    assert session["samesite"] == "Lax"


def test_clickjacking_protection_holds_in_the_test_settings_too():
    # Not only in production: Django's default is DENY and no view opts out.
    assert Client().get("/admin/login/")["X-Frame-Options"] == "DENY"
