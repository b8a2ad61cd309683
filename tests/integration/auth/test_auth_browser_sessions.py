"""Browser logins (the admin) are recorded and locked out like API logins."""

import uuid

import pytest
from django.test import Client

from auth_app import lockout
from auth_app.forms import LOCKED_MESSAGE
from eventstore.reading import read_correlation, read_stream
from tests.integration.auth.helpers import fresh_ip

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(make_account):
    return make_account(is_staff=True)


@pytest.fixture
def browser():
    return Client(REMOTE_ADDR=fresh_ip(), HTTP_USER_AGENT="pytest-browser/1.0")


def admin_login(browser, username, password, correlation_id=None):
    return browser.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        HTTP_X_CORRELATION_ID=str(correlation_id or uuid.uuid4()),
    )


def test_admin_login_and_logout_record_a_session_with_its_duration(browser, staff):
    correlation_id = uuid.uuid4()
    response = admin_login(browser, staff.username, staff.password, correlation_id)
    assert response.status_code == 302
    [login] = read_correlation(correlation_id)
    assert login.type == "auth:login" and login.stream_id == staff.stream_id
    assert login.data["method"] == "session"
    assert login.data["ip"] == browser.defaults["REMOTE_ADDR"]
    assert login.data["user_agent"] == "pytest-browser/1.0"
    session_key = browser.session.session_key
    assert session_key not in str(login.data) and len(login.data["session_id"]) == 16

    correlation_id = uuid.uuid4()
    assert browser.post("/admin/logout/", HTTP_X_CORRELATION_ID=str(correlation_id)).status_code == 200
    [logout] = read_correlation(correlation_id)
    assert logout.type == "auth:logout"
    assert logout.data["session_id"] == login.data["session_id"]
    assert logout.data["method"] == "session"
    assert logout.data["session_duration_seconds"] > 0


def test_failed_admin_login_records_the_attempt_without_the_password(browser, staff):
    correlation_id = uuid.uuid4()
    response = admin_login(browser, staff.username, "wrong-admin-guess", correlation_id)
    assert response.status_code == 200  # the form again, with an error
    [failure] = read_correlation(correlation_id)
    assert failure.type == "auth:failed_login_attempt"
    assert failure.data == {
        "username": staff.username,
        "username_key": lockout.username_key(staff.username),
        "ip": browser.defaults["REMOTE_ADDR"],
        "reason": "wrong_password",
        "sealed_for": None,
    }
    assert "wrong-admin-guess" not in str(failure.data) + str(failure.metadata)


def test_admin_login_shares_the_lockout_with_the_api(browser, staff, api, login):
    for _ in range(3):
        login(api, staff.username, "wrong")
    for _ in range(2):
        admin_login(browser, staff.username, "wrong")
    correlation_id = uuid.uuid4()
    response = admin_login(browser, staff.username, staff.password, correlation_id)
    assert response.status_code == 200
    assert LOCKED_MESSAGE in response.content.decode()
    assert "_auth_user_id" not in browser.session
    [refusal] = read_correlation(correlation_id)
    assert refusal.data["reason"] == "locked"
    assert login(api, staff.username, staff.password).status_code == 429


def test_test_client_force_login_is_recorded_as_a_session_login(client, account):
    before = len(read_stream(account.stream_id))
    client.force_login(account.user)
    [event] = read_stream(account.stream_id, after_version=before)
    assert event.type == "auth:login" and event.data["method"] == "session"
