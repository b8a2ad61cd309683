"""The audit trail of personal data shown to staff: one row per page or answer, never the values."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from eventstore.models import PersonalDataView
from eventstore.reading import read_stream

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(make_user):
    """Staff who may read the log and its personal values (not a superuser)."""
    user = make_user(is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_event", "view_user", "view_personal_data"])
    )
    return user


@pytest.fixture
def plain_staff(make_user):
    user = make_user(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_event", "view_user"]))
    return user


def signed_in(user, *, api: bool = False):
    client = APIClient() if api else Client()
    client.force_login(user)
    return client


def stored_rows_text() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(string_agg(to_jsonb(v)::text, ' '), '') FROM eventstore_personaldataview v"
        )
        return cursor.fetchone()[0]


def test_the_explorer_records_one_row_per_page_naming_fields_and_subjects_without_the_values(trail, officer):
    stream_id = f"user-{trail.user.pk}"

    page = signed_in(officer).get(f"/explorer/streams/{stream_id}/")

    assert page.status_code == 200 and trail.email in page.content.decode()
    [row] = PersonalDataView.objects.all()
    assert (row.viewer_id, row.place, row.reference) == (officer.pk, "explorer:stream", stream_id)
    assert {"data.email", "metadata.ip", "metadata.user_agent"} <= set(row.field_names)
    assert stream_id in row.subjects
    assert set(row.event_ids) <= {str(e.id) for e in read_stream(stream_id)} and row.event_ids
    stored = stored_rows_text()
    for secret in trail.secrets():
        assert secret not in stored, secret


def test_every_answer_of_the_events_api_is_one_row(trail, officer):
    client = signed_in(officer, api=True)
    for _ in range(2):
        answer = client.get(f"/api/events/streams/post-{trail.post_id}/")
        assert answer.status_code == 200 and trail.title in answer.content.decode()

    rows = list(PersonalDataView.objects.filter(place="api:stream"))
    assert len(rows) == 2
    assert {"data.title", "data.body_text"} <= set(rows[0].field_names)
    assert rows[0].subjects == [f"user-{trail.user.pk}"]


def test_the_admin_event_page_and_user_list_are_recorded(trail, officer):
    login = next(e for e in read_stream(f"user-{trail.user.pk}") if e.type == "auth:login")
    client = signed_in(officer)

    event_page = client.get(f"/admin/eventstore/event/{login.position}/change/")
    user_list = client.get("/admin/auth_app/user/", {"q": trail.user.username})

    assert trail.ip in event_page.content.decode() and trail.email in user_list.content.decode()
    by_place = {row.place: row for row in PersonalDataView.objects.all()}
    assert set(by_place) == {"admin:event", "admin:user"}
    assert by_place["admin:event"].event_ids == [str(login.id)]
    assert by_place["admin:user"].field_names == ["account.email"]
    assert f"user-{trail.user.pk}" in by_place["admin:user"].subjects
    assert trail.email not in stored_rows_text() and trail.ip not in stored_rows_text()


def test_staff_without_the_permission_get_no_values_and_leave_no_row(trail, plain_staff):
    pages = [
        signed_in(plain_staff).get(f"/explorer/streams/user-{trail.user.pk}/"),
        signed_in(plain_staff, api=True).get(f"/api/events/streams/user-{trail.user.pk}/"),
        signed_in(plain_staff).get("/admin/auth_app/user/", {"q": trail.user.username}),
    ]

    for page in pages:
        text = page.content.decode()
        assert page.status_code == 200 and "[redacted]" in text
        assert trail.email not in text and trail.ip not in text
    assert not PersonalDataView.objects.exists()


def test_values_already_erased_are_not_recorded(trail, officer):
    call_command("forget_user", trail.user.username, stdout=io.StringIO())

    page = signed_in(officer).get(f"/explorer/streams/post-{trail.post_id}/")

    assert page.status_code == 200 and "[erased]" in page.content.decode()
    assert not PersonalDataView.objects.filter(place="explorer:stream").exists()


def test_when_the_row_cannot_be_written_the_page_is_served_redacted_not_failed(trail, officer):
    with connection.cursor() as cursor:  # a real failure of the insert, from Postgres itself
        cursor.execute(
            "CREATE FUNCTION test_refuse_view_audit() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit table unavailable'; END; $$"
        )
        cursor.execute(
            "CREATE TRIGGER test_refuse_view_audit BEFORE INSERT ON eventstore_personaldataview "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse_view_audit()"
        )
    stream_id = f"user-{trail.user.pk}"

    explorer = signed_in(officer).get(f"/explorer/streams/{stream_id}/")
    api = signed_in(officer, api=True).get(f"/api/events/streams/{stream_id}/")
    admin_list = signed_in(officer).get("/admin/auth_app/user/", {"q": trail.user.username})

    for page in [explorer, api, admin_list]:
        text = page.content.decode()
        assert page.status_code == 200 and "[redacted]" in text and trail.email not in text
    assert not PersonalDataView.objects.exists()


def test_the_audit_trail_is_read_only_for_superusers_and_hidden_from_other_staff(trail, officer, make_user):
    signed_in(officer).get(f"/explorer/streams/user-{trail.user.pk}/")
    superuser = signed_in(make_user(is_staff=True, is_superuser=True))

    assert superuser.get("/admin/eventstore/personaldataview/").status_code == 200
    assert superuser.get("/admin/eventstore/personaldataview/add/").status_code == 403
    assert signed_in(officer).get("/admin/eventstore/personaldataview/").status_code == 403
