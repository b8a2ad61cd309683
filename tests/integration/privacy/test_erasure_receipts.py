"""Erasure receipts: forget_user checks every place for readable copies and stores a receipt without personal data."""

from __future__ import annotations

import io
import logging
import uuid

import orjson
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from eventstore import privacy, streams
from eventstore.bus import publish
from eventstore.models import ErasureReceipt, ParkedEvent
from eventstore.monitoring import head_position
from eventstore.redis import get_redis
from eventstore.relay import relay_pending
from tests.conftest import start_at_head, wait_until_followable
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db

EVERY_PLACE = [
    "personal-data key",
    "event log",
    "Redis event streams",
    "other Redis keys (cache, task queues)",
    "live feed",
    "projections",
    "account row",
    "parked events",
    "application logs",
    "archives",
]


def stored_receipt_text(receipt: ErasureReceipt) -> str:
    """The receipt's row exactly as Postgres stores it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_jsonb(r)::text FROM eventstore_erasurereceipt r WHERE id = %s", [receipt.pk]
        )
        return cursor.fetchone()[0]


def receipt_of(user) -> ErasureReceipt:
    return ErasureReceipt.objects.get(subject=privacy.user_subject(user.pk))


def forget_failing(username: str) -> str:
    with pytest.raises(CommandError) as refused:
        call_command("forget_user", username, stdout=io.StringIO())
    return str(refused.value)


def check_at(receipt: ErasureReceipt, place: str) -> dict:
    [check] = [c for c in receipt.checks if c["place"] == place]
    return check


@pytest.mark.django_db(transaction=True)
def test_a_forgotten_user_gets_a_receipt_with_every_check_passed_and_no_personal_data(make_trail):
    start_at_head()
    get_redis().flushdb()
    trail = make_trail()
    wait_until_followable(head_position())
    relay_pending()  # the user's events are in Redis too, sealed: the check must look at them
    out = io.StringIO()

    call_command("forget_user", trail.user.username, stdout=out)

    receipt = receipt_of(trail.user)
    assert receipt.passed, receipt.checks
    assert [c["place"] for c in receipt.checks] == EVERY_PLACE
    assert {c["status"] for c in receipt.checks} <= {"passed", "not_stored", "none_configured"}
    assert check_at(receipt, "Redis event streams")["checked"] >= len(trail.streams)
    assert (
        check_at(receipt, "event log")["checked"] >= 6
    )  # registration, logins, failure, post, edit, comment
    assert check_at(receipt, "application logs")["status"] == "not_stored"  # tests log to stderr only
    assert receipt.erased["personal_data_keys_destroyed"] == 1
    assert receipt.erased["sealed_values_unreadable"] >= 8
    assert receipt.subject == f"user-{trail.user.pk}"
    stored = stored_receipt_text(receipt)
    *printed_receipt, last_line = out.getvalue().strip().splitlines()
    printed = "\n".join(printed_receipt)  # the last line names the user the operator typed
    for secret in [trail.user.username, *trail.secrets()]:
        assert secret not in stored, secret
        assert secret not in printed, secret
    assert "every check passed" in printed and f"receipt #{receipt.pk}" in last_line


def test_a_plaintext_copy_planted_in_a_projection_fails_the_forget_and_names_the_table(trail, make_trail):
    other = make_trail()
    with connection.cursor() as cursor:  # behind the system's back: no event says so
        cursor.execute("UPDATE community_app_post SET title = %s WHERE id = %s", [trail.email, other.post_id])

    message = forget_failing(trail.user.username)

    assert "NOT confirmed" in message and "projections" in message and trail.email not in message
    receipt = receipt_of(trail.user)
    assert not receipt.passed
    projections = check_at(receipt, "projections")
    assert projections["status"] == "failed" and projections["found"] == 1
    assert "community_app_post (1 rows)" in projections["detail"]
    assert check_at(receipt, "event log")["status"] == "passed"
    assert trail.email not in stored_receipt_text(receipt)
    assert privacy.is_forgotten(privacy.user_subject(trail.user.pk))  # the key is gone all the same


def test_an_event_quoting_a_value_in_a_field_that_is_not_sealed_fails_the_forget(trail):
    with transaction.atomic():  # the log is append-only: a copy written into it stays readable
        copy = publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4().hex[:8]}", data={"label": trail.body})

    message = forget_failing(trail.user.username)

    assert "event log" in message and trail.body not in message
    check = check_at(receipt_of(trail.user), "event log")
    assert (
        check["status"] == "failed"
        and f"position {copy.position} (plain text in the payload)" in check["detail"]
    )


def test_a_redis_stream_entry_with_a_plaintext_copy_fails_the_forget_and_names_the_entry(trail):
    redis = get_redis()
    key = streams.partition_key(0)
    planted = redis.xadd(
        key, {"position": 0, "prev": 0, "type": "x", "event": orjson.dumps({"note": trail.comment})}
    )
    try:
        message = forget_failing(trail.user.username)
    finally:
        redis.xdel(key, planted)

    assert "Redis event streams" in message and trail.comment not in message
    check = check_at(receipt_of(trail.user), "Redis event streams")
    assert check["status"] == "failed" and f"{key} entry {planted.decode()}" in check["detail"]


def test_a_parked_event_whose_error_quotes_a_value_fails_the_forget(trail):
    parked = ParkedEvent.objects.create(
        subscriber="mailer",
        event_id=uuid.uuid4(),
        position=1,
        stream_id=f"user-{trail.user.pk}",
        event_type="user:created",
        error=f"SMTPRecipientsRefused: {trail.email}",  # an exception message that quoted the value
    )

    message = forget_failing(trail.user.username)

    assert "parked events" in message and trail.email not in message
    check = check_at(receipt_of(trail.user), "parked events")
    assert check["status"] == "failed" and f"parked event {parked.pk} of mailer" in check["detail"]


def test_a_log_file_holding_a_copy_fails_the_forget(trail, tmp_path):
    handler = logging.FileHandler(tmp_path / "platform.log")
    logger = logging.getLogger("tests.erasure")
    logger.addHandler(handler)
    try:
        logger.warning("profile changed for %s", trail.email)  # what a careless log line would keep
        handler.flush()
        message = forget_failing(trail.user.username)
    finally:
        logger.removeHandler(handler)
        handler.close()

    assert "application logs" in message
    check = check_at(receipt_of(trail.user), "application logs")
    assert check["status"] == "failed" and str(tmp_path / "platform.log") in check["detail"]


def test_the_admin_action_reports_a_readable_copy_as_an_error_naming_the_place(
    trail, make_trail, staff_client
):
    other = make_trail()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE community_app_comment SET body = %s WHERE post_id = %s", [trail.title, other.post_id]
        )

    response = staff_client.post(
        "/admin/auth_app/user/", {"action": "forget_users", "_selected_action": [trail.user.pk]}, follow=True
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "erasure NOT confirmed" in page and "projections" in page and trail.title not in page
    receipt = receipt_of(trail.user)
    assert not receipt.passed and isinstance(receipt.requested_by_id, int)


def test_receipts_are_listed_read_only_in_the_admin(trail, staff_client):
    call_command("forget_user", trail.user.username, stdout=io.StringIO())
    receipt = receipt_of(trail.user)

    listing = staff_client.get("/admin/eventstore/erasurereceipt/")
    detail = staff_client.get(f"/admin/eventstore/erasurereceipt/{receipt.pk}/change/")

    assert listing.status_code == 200 and f"user-{trail.user.pk}" in listing.content.decode()
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert staff_client.get("/admin/eventstore/erasurereceipt/add/").status_code == 403
