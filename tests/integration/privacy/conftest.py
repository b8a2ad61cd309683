"""A user with personal data everywhere: registration, logins, a failed login, posts and comments.

Every personal value carries a fresh random marker, so a search of raw tables
for it finds exactly the traces this test left (the log is never emptied).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

PASSWORD = "a-Long-pass-123"


@dataclass
class PersonalTrail:
    user: object
    email: str
    ip: str
    failed_ip: str
    user_agent: str
    title: str
    body: str
    edited_body: str
    comment: str
    post_id: str
    streams: list[str] = field(default_factory=list)

    def secrets(self) -> list[str]:
        """Every personal value (markers unique to this test)."""
        return [
            self.email,
            self.ip,
            self.failed_ip,
            self.user_agent,
            self.title,
            self.body,
            self.edited_body,
            self.comment,
        ]


def _ip() -> str:
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2] or 1}"


def leave_personal_trail() -> PersonalTrail:
    marker = uuid.uuid4().hex[:12]
    username = f"forget{marker}"
    trail_ip, failed_ip = _ip(), _ip()
    while failed_ip == trail_ip:
        failed_ip = _ip()
    user_agent = f"Browser/{marker}"
    client = APIClient(REMOTE_ADDR=trail_ip, HTTP_USER_AGENT=user_agent)
    email = f"{username}@example.com"
    registered = client.post(
        "/api/auth/register/", {"username": username, "email": email, "password": PASSWORD}, format="json"
    )
    assert registered.status_code == 201, registered.json()
    failed = APIClient(REMOTE_ADDR=failed_ip).post(
        "/api/auth/login/", {"username": username, "password": "wrong-Pass-999"}, format="json"
    )
    assert failed.status_code == 401
    login = client.post("/api/auth/login/", {"username": username, "password": PASSWORD}, format="json")
    assert login.status_code == 200, login.json()
    client.credentials(HTTP_AUTHORIZATION=f"Token {login.json()['token']}")
    title, body = f"Title {marker}", f"My diary {marker}"
    post = client.post("/api/posts/", {"title": title, "body": body}, format="json")
    assert post.status_code == 201, post.json()
    post_id = post.json()["id"]
    edited_body = f"Edited diary {marker}"
    assert client.patch(f"/api/posts/{post_id}/", {"body": edited_body}, format="json").status_code == 200
    comment = f"My comment {marker}"
    assert client.post(f"/api/posts/{post_id}/comments/", {"body": comment}, format="json").status_code == 201
    user = get_user_model().objects.get(username=username)
    return PersonalTrail(
        user=user,
        email=email,
        ip=trail_ip,
        failed_ip=failed_ip,
        user_agent=user_agent,
        title=title,
        body=body,
        edited_body=edited_body,
        comment=comment,
        post_id=post_id,
        streams=[f"user-{user.pk}", f"post-{post_id}"],
    )


@pytest.fixture
def trail(db) -> PersonalTrail:
    return leave_personal_trail()


@pytest.fixture
def make_trail(db):
    return leave_personal_trail


@pytest.fixture
def staff_client(make_user):
    client = APIClient()
    staff = make_user(is_staff=True, is_superuser=True)
    client.force_login(staff)
    return client
