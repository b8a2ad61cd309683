"""Unicode tricks in usernames and URLs (policy: auth_app/usernames.py, docs/security.md)."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from auth_app.usernames import MIXED_SCRIPTS
from tests.integration.auth.helpers import fresh_ip

pytestmark = pytest.mark.django_db
PASSWORD = "a-Long-pass-123"


@pytest.fixture
def register(traced):
    """POST a registration for `username` from a fresh ip (registration is rate-limited per ip)."""

    def send(username: str):
        api_client = APIClient(REMOTE_ADDR=fresh_ip())
        body = {"username": username, "email": f"{uuid.uuid4().hex[:12]}@example.com", "password": PASSWORD}
        return traced(lambda **h: api_client.post("/api/auth/register/", body, format="json", **h))

    return send


def _fresh() -> str:
    return f"u{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize(
    "trick",
    [
        "\u202e",  # right-to-left override: makes "userexe.txt" read as "usertxt.exe"
        "\u200d",  # zero-width joiner
        "\u200b",  # zero-width space
        "\u2066",  # left-to-right isolate
        "\u0301",  # a lone combining accent
        "\ufeff",  # byte order mark
    ],
)
def test_invisible_and_direction_characters_are_refused_in_usernames(register, trick):
    name = _fresh()
    response, recorded = register(name[:4] + trick + name[4:])
    assert response.status_code == 400
    assert "username" in response.json()
    assert recorded == []


def test_a_name_mixing_latin_with_cyrillic_look_alikes_is_refused(register):
    response, recorded = register("р" + _fresh())  # a Cyrillic "р" in front of Latin letters
    assert response.status_code == 400
    assert response.json()["username"] == [MIXED_SCRIPTS]
    assert recorded == []


def test_single_script_names_in_other_scripts_are_welcome(register):
    response, recorded = register(
        "алиса" + uuid.uuid4().hex[:6].translate(str.maketrans("0123456789abcdef", "абвгдежзиклмнопр"))
    )
    assert response.status_code == 201
    assert recorded == ["user:created"]


def test_a_full_width_copy_of_an_existing_name_clashes_with_it(register):
    name = _fresh()
    assert register(name)[0].status_code == 201
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in name)  # "ｕ１２..." renders like the original
    response, recorded = register(full_width)
    assert response.status_code == 400
    assert response.json()["username"] == ["A user with that username already exists."]
    assert recorded == []


def test_names_are_stored_nfkc_normalised(register):
    name = _fresh()
    response, _ = register("ﬁ" + name)  # the "fi" ligature
    assert response.status_code == 201
    assert response.json()["username"] == "fi" + name


def test_a_name_that_grows_past_the_limit_when_normalised_is_a_field_error(register):
    response, recorded = register("ﷺ" * 10)  # 10 characters, 180 after NFKC
    assert response.status_code == 400
    assert "username" in response.json()
    assert recorded == []


@pytest.mark.parametrize(
    "url",
    [
        "https://раypal.com/login",  # IDN homograph host
        "https://example.com/\u202efdp.exe",  # RTL override in the path
        "https://exa\u200bmple.com/",  # zero-width space in the host
        "https://xn--80ak6aa92e.com/",  # punycode
        "https://例え.テスト/パス?q=値",
        "https://example.com/%00%ff%fe",
    ],
)
def test_unicode_urls_are_scanned_or_refused_never_a_server_error(make_user, token_client, traced, url):
    client = token_client(make_user())
    response, recorded = traced(
        lambda **h: client.post("/api/links/scans/", {"url": url}, format="json", **h)
    )
    assert response.status_code in (200, 202, 400)
    if response.status_code == 400:
        assert recorded == []


@pytest.mark.parametrize(
    "path", ["/api/posts/\u202e/", "/api/posts/%E2%80%AE/", "/api/ｐｏｓｔｓ/", "/api/posts/%00/"]
)
def test_unicode_in_api_paths_is_a_json_404(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
