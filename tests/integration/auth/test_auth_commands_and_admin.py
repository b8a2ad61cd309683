"""grant_moderator, load_demo_data, and the user admin's security events."""

import importlib

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import connection

from eventstore.reading import read_stream

pytestmark = pytest.mark.django_db


def test_grant_moderator_adds_the_user_to_the_group_once_and_records_it(account, token_client):
    Group.objects.filter(name="moderators").delete()  # the command creates it when missing
    call_command("grant_moderator", account.username)
    assert account.user.groups.filter(name="moderators").exists()
    assert token_client(account).get("/api/auth/me/").json()["is_moderator"] is True
    call_command("grant_moderator", account.username)  # already one: nothing new recorded
    granted = [e for e in read_stream(account.stream_id) if e.type == "auth:moderator_granted"]
    assert [e.data for e in granted] == [{"user_id": account.user.pk, "username": account.username}]


def test_grant_moderator_for_an_unknown_user_is_a_clear_error():
    with pytest.raises(CommandError, match="No user named 'nobody-at-all'"):
        call_command("grant_moderator", "nobody-at-all")


def test_the_migrations_create_the_moderators_group():
    # Run here, not looked for: a transactional test before this one (in this process) flushed
    # the tables, and the migration's row with them.
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    assert ("auth_app", "0003_moderators_group") in executor.loader.applied_migrations
    migration = importlib.import_module("auth_app.migrations.0003_moderators_group")
    Group.objects.filter(name="moderators").delete()
    migration.create_moderators_group(executor.loader.project_state().apps, None)
    assert Group.objects.filter(name="moderators").exists()


def test_staff_count_as_moderators(make_account, token_client):
    staff = make_account(is_staff=True)
    assert token_client(staff).get("/api/auth/me/").json()["is_moderator"] is True


def test_demo_data_creates_users_through_registration_once():
    User = get_user_model()
    User.objects.filter(username__in=["admin", "alice"]).delete()
    call_command("load_demo_data")
    call_command("load_demo_data")
    admin, alice = User.objects.get(username="admin"), User.objects.get(username="alice")
    assert admin.is_staff and admin.is_superuser and not alice.is_staff
    for user in (admin, alice):
        assert [e.type for e in read_stream(f"user-{user.pk}")] == ["user:created"]


def test_user_admin_page_lists_recent_security_events(make_account, account, login, api, client):
    login(api, account.username, "wrong-password")
    login(api, account.username, account.password)
    superuser = make_account(is_staff=True, is_superuser=True)
    client.force_login(superuser.user)
    response = client.get(f"/admin/auth_app/user/{account.user.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    for event_type in ("user:created", "auth:failed_login_attempt", "auth:login"):
        assert event_type in page
    assert "reason=wrong_password" in page
    assert account.password not in page


def test_user_admin_list_loads(make_account, client):
    superuser = make_account(is_staff=True, is_superuser=True)
    client.force_login(superuser.user)
    assert client.get("/admin/auth_app/user/").status_code == 200
    assert client.get("/admin/auth_app/loginlockout/").status_code == 200


def test_schema_documents_the_accounts_endpoints(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("register", "login", "logout", "password", "me"):
        assert f"/api/auth/{path}/" in paths
