"""`/` says what the site is and leads to the API docs; staff also to the dashboard, explorer, admin."""

from __future__ import annotations

import re

import pytest
from django.test import Client

STAFF_LINKS = ["/dashboard/", "/explorer/", "/admin/"]
DOC_LINKS = ["/api/docs/", "/api/redoc/", "/api/schema/"]


def links(html: str) -> set[str]:
    return set(re.findall(r'href="([^"]+)"', html))


@pytest.mark.django_db
def test_visitors_learn_what_the_site_is_and_find_the_api_docs_but_no_staff_tools():
    response = Client().get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "<h1>The platform</h1>" in html and "scanned for phishing and malware" in html
    assert set(DOC_LINKS) <= links(html)
    assert not set(STAFF_LINKS) & links(html)
    assert "/admin/login/?next=/" in links(html)


@pytest.mark.django_db
def test_members_who_are_not_staff_see_no_staff_tools(make_user):
    client = Client()
    client.force_login(make_user())
    html = client.get("/").content.decode()
    assert set(DOC_LINKS) <= links(html)
    assert not set(STAFF_LINKS) & links(html)


@pytest.mark.django_db
def test_staff_find_the_dashboard_explorer_and_admin(make_user):
    client = Client()
    client.force_login(make_user(is_staff=True))
    html = client.get("/").content.decode()
    assert set(DOC_LINKS + STAFF_LINKS) <= links(html)
    for path in STAFF_LINKS:
        assert client.get(path).status_code == 200, path


@pytest.mark.django_db
@pytest.mark.parametrize("path", DOC_LINKS)
def test_every_documentation_link_answers(path):
    assert Client().get(path).status_code == 200


@pytest.mark.django_db
def test_the_front_door_only_answers_reads():
    assert Client().post("/").status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_load_their_own_copies_and_may_reach_no_other_host(path):
    response = Client().get(path)
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn." not in html and "fonts.googleapis" not in html
    assert "default-src 'self'" in response["Content-Security-Policy"]
