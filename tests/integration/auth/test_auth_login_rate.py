"""Login attempts per address are limited before anything is recorded (auth_app.login_rate).

Without the limit every refused attempt was an event: an attacker at full speed
grew the permanent log without bound, even while their address was locked.
"""

import pytest
from django.test import Client, override_settings

from auth_app.forms import LOCKED_MESSAGE
from eventstore.models import Event
from eventstore.reading import read_stream
from tests.integration.auth.helpers import fresh_ip, fresh_username

pytestmark = pytest.mark.django_db


def _events_since(position: int) -> list[tuple[str, str]]:
    """(type, stream id) of every event appended after `position`, in order."""
    return list(
        Event.objects.filter(position__gt=position).order_by("position").values_list("type", "stream_id")
    )


def _head() -> int:
    return Event.objects.order_by("-position").values_list("position", flat=True).first() or 0


@override_settings(LOGIN_IP_RATE_ATTEMPTS=3, LOGIN_IP_RATE_WINDOW_SECONDS=3600)
def test_attempts_over_the_address_limit_are_refused_unrecorded_with_one_summary(
    client_from_fresh_ip, account, login
):
    ip = fresh_ip()
    attacker = client_from_fresh_ip(ip)
    head = _head()
    statuses = [login(attacker, fresh_username("guess"), "wrong").status_code for _ in range(3)]
    refused = [login(attacker, fresh_username("guess"), "wrong") for _ in range(25)]
    assert statuses == [401] * 3
    assert {r.status_code for r in refused} == {429}
    assert all(1 <= int(r["Retry-After"]) <= 3600 for r in refused)
    # Even the right password is refused from that address, unchecked.
    assert login(attacker, account.username, account.password).status_code == 429
    types = [event_type for event_type, _stream in _events_since(head)]
    assert types == ["auth:failed_login_attempt"] * 3 + ["auth:login_attempts_limited"]
    summary_stream = _events_since(head)[-1][1]
    assert summary_stream.startswith("login-limited-")
    assert read_stream(summary_stream)[-1].data == {"ip": ip, "limit": 3, "window_seconds": 3600}
    # Another address is not affected.
    assert login(client_from_fresh_ip(), account.username, account.password).status_code == 200


@override_settings(LOGIN_IP_RATE_ATTEMPTS=2, LOGIN_IP_RATE_WINDOW_SECONDS=3600)
def test_the_admin_login_counts_against_the_same_address_limit(account):
    browser = Client(REMOTE_ADDR=fresh_ip())
    head = _head()
    for _ in range(2):
        browser.post("/admin/login/", {"username": fresh_username(), "password": "wrong"})
    response = browser.post("/admin/login/", {"username": account.username, "password": account.password})
    assert LOCKED_MESSAGE in response.content.decode()
    types = [event_type for event_type, _stream in _events_since(head)]
    assert types == ["auth:failed_login_attempt"] * 2 + ["auth:login_attempts_limited"]
