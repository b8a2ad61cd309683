"""Who may call what: every endpoint × every role, with the expected status.

Roles: anonymous; `user` (owns the post the paths point at); `other` (another
signed-in user); `moderator` (member of the moderators group); `staff`.
API paths are called with a knox token, the other pages with a browser session.
`test_every_route_is_in_the_matrix` fails when a route is added without a row here.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from knox.models import AuthToken
from rest_framework.test import APIClient

from community_app import services as community
from eventstore.reading import read_stream
from links_app import services as links

PASSWORD = "a-Long-pass-123"
ROLES = ("anonymous", "user", "other", "moderator", "staff")


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # with {placeholders} filled from the world fixture
    expected: dict[str, int]  # role -> status
    body: str | None = None  # name of a body builder in BODIES


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def signed_in(status: int, anonymous: int = 401) -> dict[str, int]:
    return {"anonymous": anonymous, **dict.fromkeys(ROLES[1:], status)}


STAFF_ONLY_API = {"anonymous": 401, "user": 403, "other": 403, "moderator": 403, "staff": 200}
STAFF_ONLY_PAGE = {"anonymous": 302, "user": 403, "other": 403, "moderator": 403, "staff": 200}

MATRIX: list[Row] = [
    # Accounts (API.md, "Accounts"). Login and registration are open to all.
    Row("POST", "/api/auth/register/", everyone(201), body="registration"),
    Row("POST", "/api/auth/login/", everyone(200), body="login"),
    Row("POST", "/api/auth/logout/", signed_in(204)),
    Row("POST", "/api/auth/logout/all/", signed_in(204)),
    Row("POST", "/api/auth/password/", signed_in(400), body="wrong_password"),  # past the permission check
    Row("GET", "/api/auth/me/", signed_in(200)),
    # Community (API.md, "Community").
    Row("GET", "/api/posts/", everyone(200)),
    Row("POST", "/api/posts/", signed_in(201), body="post"),
    Row("GET", "/api/posts/{post_id}/", everyone(200)),
    Row(
        "PATCH",
        "/api/posts/{post_id}/",
        {"anonymous": 401, "user": 200, "other": 403, "moderator": 403, "staff": 403},
        body="edit",
    ),
    Row(
        "DELETE",
        "/api/posts/{post_id}/",
        {"anonymous": 401, "user": 204, "other": 403, "moderator": 204, "staff": 204},
    ),
    Row("GET", "/api/posts/{post_id}/comments/", everyone(200)),
    Row("POST", "/api/posts/{post_id}/comments/", signed_in(201), body="comment"),
    Row("POST", "/api/posts/{post_id}/vote/", signed_in(200), body="vote"),
    # Links (API.md, "Links").
    Row("GET", "/api/links/", everyone(200)),
    Row("GET", "/api/links/{link_id}/", everyone(200)),
    Row("POST", "/api/links/scans/", signed_in(202), body="scan"),
    Row("GET", "/api/links/scans/{scan_id}/", everyone(200)),
    Row(
        "POST",
        "/api/links/{link_id}/verify/",
        {"anonymous": 401, "user": 403, "other": 403, "moderator": 200, "staff": 200},
        body="verify",
    ),
    # Events (API.md, "Events"): staff only.
    Row("GET", "/api/events/", STAFF_ONLY_API),
    Row("GET", "/api/events/streams/{stream_id}/", STAFF_ONLY_API),
    Row("GET", "/api/events/correlation/{correlation_id}/", STAFF_ONLY_API),
    # The schema and its browsable docs are public.
    Row("GET", "/api/schema/", everyone(200)),
    Row("GET", "/api/docs/", everyone(200)),
    Row("GET", "/api/redoc/", everyone(200)),
    # The front door: public (staff also see links to their tools).
    Row("GET", "/", everyone(200)),
    # Operations.
    Row("GET", "/health/", everyone(200)),
    Row("GET", "/admin/", {"anonymous": 302, "user": 302, "other": 302, "moderator": 302, "staff": 200}),
    # monitoring_app: the dashboard and the event explorer (staff sessions), /metrics (staff or bearer token).
    Row("GET", "/dashboard/", STAFF_ONLY_PAGE),
    Row("GET", "/dashboard/status.json", STAFF_ONLY_PAGE),
    Row("GET", "/dashboard/live/", STAFF_ONLY_PAGE),
    Row("GET", "/explorer/", STAFF_ONLY_PAGE),
    Row("GET", "/explorer/streams/{stream_id}/", STAFF_ONLY_PAGE),
    Row("GET", "/explorer/correlation/{correlation_id}/", STAFF_ONLY_PAGE),
    Row("GET", "/metrics", {"anonymous": 401, "user": 403, "other": 403, "moderator": 403, "staff": 200}),
]

# Routes that are not the platform's own endpoints.
NOT_IN_MATRIX = {
    "admin/": "the Django admin: its own staff check guards every page below /admin/ (row: /admin/)",
}


def _bodies(world) -> dict[str, dict]:
    fresh = uuid.uuid4().hex[:10]
    return {
        "registration": {"username": f"m{fresh}", "email": f"m{fresh}@example.com", "password": PASSWORD},
        "login": {"username": world["user"].username, "password": PASSWORD},
        "wrong_password": {"old_password": "not-it", "new_password": "An0ther-long-pass"},
        "post": {"title": "matrix", "body": "A post."},
        "edit": {"body": "Edited."},
        "comment": {"body": "A comment."},
        "vote": {"value": 1},
        "scan": {"url": f"https://matrix-{fresh}.example.com/"},
        "verify": {"verdict": "safe", "note": "checked"},
    }


@pytest.fixture
def world(make_user):
    moderators, _ = Group.objects.get_or_create(name="moderators")
    users = {
        "user": make_user(),
        "other": make_user(),
        "moderator": make_user(),
        "staff": make_user(is_staff=True, is_superuser=True),
    }
    users["moderator"].groups.add(moderators)
    post = community.post_create(author=users["user"], title="t", body="b")
    scan = links.link_scan_request(
        url=f"https://m-{uuid.uuid4().hex[:10]}.example.com/", requested_by=users["user"].pk
    )
    return {
        **users,
        "post_id": post.id,
        "link_id": scan.scan.link_id,
        "scan_id": scan.scan.id,
        "stream_id": f"post-{post.id}",
        "correlation_id": read_stream(f"post-{post.id}")[0].correlation_id,
    }


def _client_for(role: str, world, path: str):
    if path.startswith("/api/"):
        client = APIClient()
        if role != "anonymous":
            _, token = AuthToken.objects.create(world[role])
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client
    client = Client()
    if role != "anonymous":
        client.force_login(world[role])
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("row", MATRIX, ids=lambda row: f"{row.method} {row.path}")
def test_access(row: Row, role: str, world):
    path = row.path.format(**world)
    client = _client_for(role, world, path)
    body = _bodies(world)[row.body] if row.body else None
    kwargs = {"format": "json"} if path.startswith("/api/") and body is not None else {}
    response = (
        getattr(client, row.method.lower())(path, body, **kwargs)
        if body
        else getattr(client, row.method.lower())(path)
    )
    assert response.status_code == row.expected[role], (
        f"{role}: {row.method} {path} -> {response.status_code}"
    )


def _routes(patterns, prefix: str = ""):
    """(route, callback) for every URL pattern, converters written as {name}."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route in NOT_IN_MATRIX:
                continue
            yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route), pattern.callback


def _methods(callback) -> set[str]:
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view is None:
        return {"GET"}  # function views of this project answer GET (require_GET)
    return {m.upper() for m in view.http_method_names if hasattr(view, m) and m not in ("options", "head")}


def test_every_route_is_in_the_matrix():
    covered = {(row.method, row.path) for row in MATRIX}
    routes = {
        (method, route)
        for route, callback in _routes(get_resolver("platform_site.urls").url_patterns)
        for method in _methods(callback)
    }
    missing = sorted(routes - covered)
    assert missing == [], f"routes without a row in the access matrix: {missing}"


def test_every_row_is_a_real_route():
    routes = {route for route, _ in _routes(get_resolver("platform_site.urls").url_patterns)}
    routes |= {"/" + prefix for prefix in NOT_IN_MATRIX}
    assert {row.path for row in MATRIX} - routes == set()


# --- Personal data: staff read the log, only the permission shows personal values ----------

# (The list at /api/events/ serves the same redaction; within a test's transaction it shows nothing.)
PERSONAL_DATA_PAGES = [
    "/api/events/streams/{stream_id}/",
    "/api/events/correlation/{correlation_id}/",
    "/explorer/streams/{stream_id}/",
    "/explorer/correlation/{correlation_id}/",
    "/admin/eventstore/event/{position}/change/",
    "/admin/auth_app/user/",
    "/admin/auth_app/user/{user_id}/change/",
]
# who -> sees the personal values (True) or only "[redacted]" (False)
PERSONAL_DATA_READERS = {"staff": False, "privacy_officer": True, "superuser": True}


@pytest.fixture
def personal_world(make_user):
    from django.contrib.auth.models import Permission

    from auth_app.services import user_login, user_register

    marker = uuid.uuid4().hex[:10]
    person = user_register(username=f"p{marker}", email=f"mail{marker}@example.com", password=PASSWORD)
    ip, agent = f"10.{uuid.uuid4().int % 250}.7.{uuid.uuid4().int % 250 + 1}", f"Agent/{marker}"
    user_login(username=person.username, password=PASSWORD, ip=ip, user_agent=agent)
    login = read_stream(f"user-{person.pk}")[-1]
    # Staff with the admin's view permissions for events and users, but not the personal-data one.
    view = Permission.objects.filter(codename__in=["view_event", "view_user"])
    staff, officer = make_user(is_staff=True), make_user(is_staff=True)
    staff.user_permissions.add(*view)
    officer.user_permissions.add(*view, Permission.objects.get(codename="view_personal_data"))
    return {
        "readers": {
            "staff": staff,
            "privacy_officer": officer,
            "superuser": make_user(is_staff=True, is_superuser=True),
        },
        "secrets": [person.email, ip, agent],
        "stream_id": f"user-{person.pk}",
        "correlation_id": login.correlation_id,
        "position": login.position,
        "user_id": person.pk,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("reader", PERSONAL_DATA_READERS)
@pytest.mark.parametrize("page", PERSONAL_DATA_PAGES)
def test_personal_values_need_the_personal_data_permission(page: str, reader: str, personal_world):
    path = page.format(**personal_world)
    client = APIClient() if path.startswith("/api/") else Client()
    client.force_login(personal_world["readers"][reader])
    response = client.get(path)
    assert response.status_code == 200, f"{reader}: {path} -> {response.status_code}"
    text = response.content.decode()
    shown = [secret for secret in personal_world["secrets"] if secret in text]
    if not PERSONAL_DATA_READERS[reader]:
        assert shown == [], f"{reader} reads {shown} on {path}"
    elif "/explorer/correlation/" not in path:  # the causal tree shows no personal values to anyone
        assert shown, f"{reader} should read personal data on {path}"


@pytest.mark.django_db
def test_the_live_feed_carries_no_personal_values(personal_world):
    """The dashboard's feed (relay summaries, monitoring_app.live) names events; it never opens them."""
    from monitoring_app.live import summary

    frame = json.dumps(summary(read_stream(personal_world["stream_id"])[-1]))
    assert [secret for secret in personal_world["secrets"] if secret in frame] == []
    assert set(json.loads(frame)) == {
        "id",
        "position",
        "type",
        "stream_id",
        "source",
        "correlation_id",
        "recorded_at",
    }


@pytest.mark.django_db
@pytest.mark.parametrize("reader", PERSONAL_DATA_READERS)
def test_the_user_search_matches_emails_only_for_readers_of_personal_data(reader, personal_world):
    client = Client()
    client.force_login(personal_world["readers"][reader])
    email = personal_world["secrets"][0]
    page = client.get("/admin/auth_app/user/", {"q": email}).content.decode()
    found = f"/admin/auth_app/user/{personal_world['user_id']}/change/" in page
    assert found == PERSONAL_DATA_READERS[reader]
