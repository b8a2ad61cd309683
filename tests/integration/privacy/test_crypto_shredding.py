"""Crypto-shredding (DESIGN.md guarantee 9): sealed at rest, readable until forgotten, erased after."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection

from auth_app.lockout import username_key
from auth_app.services import forgotten_email
from eventstore import privacy
from eventstore.projections import registered_projections
from eventstore.reading import read_stream

pytestmark = pytest.mark.django_db


def raw_rows(streams: list[str]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT position, id, type, schema_version, data::text, metadata::text, recorded_at "
            "FROM eventstore_event WHERE stream_id = ANY(%s) ORDER BY position",
            [streams],
        )
        return cursor.fetchall()


def log_rows_containing(secret: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM eventstore_event WHERE data::text LIKE %s OR metadata::text LIKE %s",
            [f"%{secret}%", f"%{secret}%"],
        )
        return cursor.fetchone()[0]


def projection_rows_containing(secret: str) -> dict[str, int]:
    found = {}
    with connection.cursor() as cursor:
        for projection in registered_projections().values():
            for table in projection.table_names():
                cursor.execute(
                    f"SELECT count(*) FROM {connection.ops.quote_name(table)} t WHERE t::text LIKE %s",
                    [f"%{secret}%"],
                )
                if count := cursor.fetchone()[0]:
                    found[table] = count
    return found


def all_values(events) -> str:
    return repr([(e.data, e.metadata) for e in events])


def test_personal_values_are_ciphertext_at_rest(trail):
    for secret in trail.secrets():
        assert log_rows_containing(secret) == 0, secret
    data, metadata = raw_rows([f"user-{trail.user.pk}"])[0][4:6]
    assert '"$pii"' in data and '"$pii"' in metadata  # sealed values, not merely absent
    assert trail.user.username in data  # usernames are not personal data (DESIGN.md)


def test_readers_and_projections_see_plaintext_before_forgetting(trail, staff_client):
    text = all_values(read_stream(f"user-{trail.user.pk}") + read_stream(f"post-{trail.post_id}"))
    for secret in [trail.email, trail.ip, trail.failed_ip, trail.user_agent, trail.title, trail.body]:
        assert secret in text
    api = staff_client.get(f"/api/events/streams/user-{trail.user.pk}/").content.decode()
    assert trail.email in api and trail.ip in api
    assert staff_client.get(f"/api/posts/{trail.post_id}/").json()["body"] == trail.edited_body
    assert projection_rows_containing(trail.failed_ip)  # the login-security projection counts by ip


def test_forgotten_user_reads_as_erased_everywhere(trail, staff_client):
    call_command("forget_user", trail.user.username)

    events = read_stream(f"user-{trail.user.pk}") + read_stream(f"post-{trail.post_id}")
    text = all_values(events)
    for secret in trail.secrets():
        assert secret not in text, secret
    created = next(e for e in events if e.type == "user:created")
    assert created.data["email"] == privacy.ERASED
    assert created.metadata["ip"] == privacy.ERASED and created.metadata["user_agent"] == privacy.ERASED
    login = next(e for e in events if e.type == "auth:login")
    assert login.data["ip"] == privacy.ERASED and login.data["username"] == trail.user.username
    post = next(e for e in events if e.type == "community:post_created")
    assert post.data["body_text"] == privacy.ERASED

    for url in (
        f"/api/events/streams/user-{trail.user.pk}/",
        f"/api/events/streams/post-{trail.post_id}/",
        f"/api/events/correlation/{created.correlation_id}/",
    ):
        body = staff_client.get(url).content.decode()
        assert privacy.ERASED in body and not any(s in body for s in trail.secrets()), url
    admin_page = staff_client.get(f"/admin/eventstore/event/{created.position}/change/").content.decode()
    assert privacy.ERASED in admin_page and trail.email not in admin_page
    explorer = staff_client.get(f"/explorer/streams/user-{trail.user.pk}/").content.decode()
    assert privacy.ERASED in explorer and not any(s in explorer for s in trail.secrets())
    user_page = staff_client.get(f"/admin/auth_app/user/{trail.user.pk}/change/").content.decode()
    assert trail.failed_ip not in user_page and trail.email not in user_page
    # Projections of forgotten texts are erased at once, before any replay.
    post_api = staff_client.get(f"/api/posts/{trail.post_id}/").json()
    assert post_api["title"] == privacy.ERASED and post_api["body"] == privacy.ERASED


def test_replay_leaves_no_trace_in_any_projection(trail):
    call_command("forget_user", trail.user.username)
    call_command("replay_events", interactive=False, stdout=io.StringIO(), stderr=io.StringIO())
    for secret in trail.secrets():
        assert projection_rows_containing(secret) == {}, secret
    with connection.cursor() as cursor:
        cursor.execute("SELECT title, body FROM community_app_post WHERE id = %s", [trail.post_id])
        assert cursor.fetchone() == (privacy.ERASED, privacy.ERASED)


def test_event_rows_are_untouched_and_the_forget_is_recorded(trail):
    before = raw_rows(trail.streams)
    call_command("forget_user", trail.user.username)
    after = raw_rows(trail.streams)
    assert after[: len(before)] == before  # same bytes: nothing rewritten
    [forgotten] = [e for e in read_stream(f"user-{trail.user.pk}") if e.type == "user:forgotten"]
    assert forgotten.data == {"user_id": trail.user.pk, "username": trail.user.username}
    with pytest.raises(DatabaseError, match="append-only"), connection.cursor() as cursor:
        cursor.execute("UPDATE eventstore_event SET data = '{}' WHERE position = %s", [before[0][0]])


def test_the_account_row_is_scrubbed_and_tokens_deleted(trail, api_client):
    from knox.models import AuthToken

    assert AuthToken.objects.filter(user=trail.user).exists()
    call_command("forget_user", trail.user.username)
    trail.user.refresh_from_db()
    assert trail.user.email == forgotten_email(trail.user.pk)
    assert not trail.user.is_active and not trail.user.has_usable_password()
    assert not AuthToken.objects.filter(user=trail.user).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM auth_app_user t WHERE t::text LIKE %s", [f"%{trail.email}%"])
        assert cursor.fetchone()[0] == 0


def test_forgetting_twice_is_a_clear_error_that_changes_nothing(trail):
    call_command("forget_user", trail.user.username)
    version = len(read_stream(f"user-{trail.user.pk}"))
    with pytest.raises(CommandError, match="already forgotten"):
        call_command("forget_user", trail.user.username)
    with pytest.raises(CommandError, match="No user"):
        call_command("forget_user", "nobody-of-that-name")
    assert len(read_stream(f"user-{trail.user.pk}")) == version


def test_other_users_are_unaffected(trail, make_trail):
    other = make_trail()
    call_command("forget_user", trail.user.username)
    text = all_values(read_stream(f"user-{other.user.pk}") + read_stream(f"post-{other.post_id}"))
    for secret in [other.email, other.ip, other.user_agent, other.title, other.body]:
        assert secret in text
    assert projection_rows_containing(other.comment)


def test_events_recorded_after_forgetting_are_stored_erased(trail):
    from django.db import transaction

    from eventstore.bus import publish

    call_command("forget_user", trail.user.username)
    with transaction.atomic():
        event = publish(
            "auth:failed_login_attempt",
            stream_id=f"user-{trail.user.pk}",
            data={
                "username": trail.user.username,
                "username_key": username_key(trail.user.username),
                "ip": trail.failed_ip,
                "reason": "inactive_user",
            },
        )
    assert event.data["ip"] == privacy.ERASED  # what projections received
    assert log_rows_containing(trail.failed_ip) == 0


def test_admin_action_forgets_the_selected_user(trail, staff_client):
    response = staff_client.post(
        "/admin/auth_app/user/",
        {"action": "forget_users", "_selected_action": [trail.user.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Forgotten: " + trail.user.username in response.content.decode()
    assert privacy.is_forgotten(privacy.user_subject(trail.user.pk))
    [forgotten] = [e for e in read_stream(f"user-{trail.user.pk}") if e.type == "user:forgotten"]
    assert isinstance(forgotten.metadata["actor_id"], int)
