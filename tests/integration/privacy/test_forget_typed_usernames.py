"""What people type into the login box is personal data, and forgetting reaches it (DESIGN.md 9).

A failed login typed as `ALICE` is filed with `alice` (the stream, the key that
seals it), so `forget_user alice` erases the typed name, its ip and its user
agent; a name that matches no account (often an email) never appears in clear
in the log, a stream id, Redis, the live feed, a projection or the logs, and
adds no data key of its own.
"""

from __future__ import annotations

import logging
import uuid

import orjson
import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from auth_app.lockout import username_key
from auth_app.models import LoginFailure
from auth_app.services import user_register
from eventstore import privacy, streams
from eventstore.models import Event
from eventstore.reading import read_stream
from eventstore.redis import get_redis
from eventstore.relay import relay_pending
from tests.conftest import start_at_head, wait_until_followable
from tests.integration.privacy.test_crypto_shredding import projection_rows_containing

pytestmark = pytest.mark.django_db(transaction=True)


def _log_text_containing(secret: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM eventstore_event WHERE data::text LIKE %s OR metadata::text LIKE %s "
            "OR stream_id LIKE %s",
            [f"%{secret}%"] * 3,
        )
        return cursor.fetchone()[0]


def _redis_stream_text() -> bytes:
    redis = get_redis()
    return b"".join(
        b"".join(fields.values())
        for partition in range(streams.partition_count())
        for _id, fields in redis.xrange(streams.partition_key(partition))
    )


def test_typed_usernames_are_filed_with_the_account_and_forgotten_with_it(caplog):
    caplog.set_level(logging.DEBUG)
    get_redis().flushdb()
    start_at_head()
    marker = uuid.uuid4().hex[:10]
    username = f"alice{marker}"
    user = user_register(username=username, email=f"{username}@example.com", password="a-Long-pass-123")
    before = Event.objects.order_by("-position").values_list("position", flat=True).first()
    typed_upper, typed_email = username.upper(), f"{username}@mail.example"
    ip = f"10.77.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"
    user_agent = f"TypingBrowser/{marker}"
    live = get_redis().pubsub()
    live.subscribe(streams.live_channel())
    client = APIClient(REMOTE_ADDR=ip, HTTP_USER_AGENT=user_agent)
    for typed in (typed_upper, f" {username.capitalize()} ", typed_email):
        response = client.post("/api/auth/login/", {"username": typed, "password": "wrong"}, format="json")
        assert response.status_code == 401
    head = Event.objects.order_by("-position").values_list("position", flat=True).first()
    wait_until_followable(head)
    relay_pending()
    feed = b"".join(
        m["data"] for m in iter(lambda: live.get_message(timeout=1.0), None) if m["type"] == "message"
    )
    live.close()

    # Case variants are filed on the account's stream, where its key seals them.
    attempts = read_stream(f"user-{user.pk}")
    typed_here = [e.data["username"] for e in attempts if e.type == "auth:failed_login_attempt"]
    assert typed_here == [typed_upper, username.capitalize()]  # the API trims the spaces
    # Nothing typed is in clear anywhere: log rows and stream ids, Redis, live feed, projections, logs.
    for secret in (typed_upper, username.capitalize(), typed_email, ip, user_agent):
        assert _log_text_containing(secret) == 0, secret
        assert secret.encode() not in _redis_stream_text(), secret
        assert secret.encode() not in feed, secret
        assert secret not in caplog.text, secret
    for secret in (typed_upper, username.capitalize(), typed_email, username.lower()):
        assert projection_rows_containing(secret) == {}, secret
    assert b"auth:failed_login_attempt" in feed  # the feed did carry the attempts
    # The unknown name is sealed with the day's shared key: invented names add no key each.
    [email_attempt] = Event.objects.filter(position__gt=before, stream_id__startswith="login-")
    assert email_attempt.data["sealed_for"].startswith("login-attempts-")
    assert orjson.dumps(email_attempt.data["username"]).count(b"$pii") == 1  # sealed, not clear

    call_command("forget_user", username)
    forgotten = [e for e in read_stream(f"user-{user.pk}") if e.type == "auth:failed_login_attempt"]
    assert len(forgotten) == 2
    for event in forgotten:
        assert event.data["username"] == privacy.ERASED
        assert event.data["ip"] == privacy.ERASED
        assert event.metadata["ip"] == event.metadata["user_agent"] == privacy.ERASED
    # The lockout projection keeps counting alice's failures, without their ip.
    assert set(
        LoginFailure.objects.filter(username_key=username_key(username)).values_list("ip", flat=True)
    ) == {""}
