"""Who may see the monitoring pages: staff only; /metrics also a bearer token."""

import pytest

pytestmark = pytest.mark.django_db

STAFF_PAGES = [
    "/dashboard/",
    "/dashboard/status.json",
    "/dashboard/live/",
    "/explorer/",
    "/explorer/streams/thing-x/",
    "/explorer/correlation/3f2b8c1e-5d47-4a06-9c1b-7e0d2a6f4b95/",  # fixed: pytest-xdist workers collect alike
]


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_signed_in_members_who_are_not_staff_are_refused(member_client, path):
    assert member_client.get(path).status_code == 403


def test_metrics_ask_anonymous_scrapers_to_authenticate(client):
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_metrics_refuse_members_who_are_not_staff(member_client):
    assert member_client.get("/metrics").status_code == 403


def test_metrics_accept_the_configured_bearer_token_and_only_it(client, settings):
    settings.METRICS_TOKEN = "scrape-secret-123"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-123").status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Token scrape-secret-123").status_code == 401


def test_without_a_configured_token_no_bearer_token_is_accepted(client, settings):
    settings.METRICS_TOKEN = None
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer None").status_code == 401
