"""Brute-force lockout as a projection of failed-attempt events (API.md, Accounts)."""

import datetime as dt
import uuid

import pytest

from auth_app import lockout
from auth_app.models import LoginFailure, LoginLockout
from auth_app.projections import LOGIN_SECURITY
from eventstore.reading import read_correlation, read_stream
from eventstore.replay import rebuild_projection
from tests.integration.auth.helpers import fresh_ip, fresh_username

pytestmark = pytest.mark.django_db
WINDOW = 15 * 60


def fail(login, client, username, times):
    return [login(client, username, "wrong-password").status_code for _ in range(times)]


def test_fifth_failure_locks_even_the_right_password_with_retry_after_15_minutes(api, account, login):
    assert fail(login, api, account.username, 5) == [401] * 5
    correlation_id = uuid.uuid4()
    response = login(api, account.username, account.password, correlation_id)
    assert response.status_code == 429
    assert WINDOW - 60 < int(response["Retry-After"]) <= WINDOW
    assert "detail" in response.json()
    # The refusal is recorded, with the request's correlation id, and no token is issued.
    [refusal] = read_correlation(correlation_id)
    assert (refusal.type, refusal.data["reason"], refusal.stream_id) == (
        "auth:failed_login_attempt",
        "locked",
        account.stream_id,
    )


def test_four_failures_do_not_lock(api, account, login):
    assert fail(login, api, account.username, 4) == [401] * 4
    assert login(api, account.username, account.password).status_code == 200


def test_the_locking_failure_records_account_locked(api, account, login):
    fail(login, api, account.username, 4)
    correlation_id = uuid.uuid4()
    login(api, account.username, "wrong-password", correlation_id)
    failed, locked = read_correlation(correlation_id)
    assert failed.type == "auth:failed_login_attempt"
    assert locked.type == "auth:account_locked"
    assert locked.stream_id == account.stream_id
    assert locked.data["failed_attempts"] == 5
    lock = LoginLockout.objects.get(scope="username", key=lockout.username_key(account.username))
    assert dt.datetime.fromisoformat(locked.data["locked_until"]) == lock.locked_until
    assert lock.locked_until == failed.recorded_at + dt.timedelta(seconds=WINDOW)


def test_unknown_usernames_lock_the_same_way_revealing_nothing(api, login):
    username = fresh_username()
    assert fail(login, api, username, 6) == [401] * 5 + [429]


def test_case_variants_of_a_username_count_together(api, account, login):
    fail(login, api, account.username.upper(), 2)
    fail(login, api, account.username.title(), 2)
    fail(login, api, account.username, 1)
    assert login(api, account.username, account.password).status_code == 429


def test_failures_from_many_ips_still_lock_the_username(client_from_fresh_ip, account, login):
    for _ in range(5):
        fail(login, client_from_fresh_ip(), account.username, 1)
    assert login(client_from_fresh_ip(), account.username, account.password).status_code == 429


def test_refused_attempts_neither_count_nor_extend_the_lock(api, account, login):
    fail(login, api, account.username, 5)
    locked_until = LoginLockout.objects.get(key=lockout.username_key(account.username)).locked_until
    assert fail(login, api, account.username, 3) == [429] * 3
    assert LoginLockout.objects.get(key=lockout.username_key(account.username)).locked_until == locked_until
    reasons = [
        e.data["reason"] for e in read_stream(account.stream_id) if e.type == "auth:failed_login_attempt"
    ]
    assert reasons == ["wrong_password"] * 5 + ["locked"] * 3


def test_lock_expires_after_15_minutes_and_counting_starts_afresh(api, account, login, monkeypatch):
    fail(login, api, account.username, 5)
    assert login(api, account.username, account.password).status_code == 429
    later = lockout.current_time() + dt.timedelta(seconds=WINDOW + 1)
    monkeypatch.setattr(lockout, "current_time", lambda: later)
    # The failures that caused the lock are used up: one more failure does not lock again.
    assert login(api, account.username, "wrong-password").status_code == 401
    assert login(api, account.username, account.password).status_code == 200


def test_lock_is_still_in_force_just_before_it_ends(api, account, login, monkeypatch):
    fail(login, api, account.username, 5)
    lock = LoginLockout.objects.get(key=lockout.username_key(account.username))
    monkeypatch.setattr(lockout, "current_time", lambda: lock.locked_until - dt.timedelta(seconds=1))
    response = login(api, account.username, account.password)
    assert response.status_code == 429
    assert response["Retry-After"] == "1"


def test_per_ip_limit_stops_password_spraying_across_usernames(client_from_fresh_ip, account, login):
    sprayer_ip = fresh_ip()
    sprayer = client_from_fresh_ip(sprayer_ip)
    for _ in range(5):  # 20 failures, 4 per username: no username is locked
        usernames = [fresh_username() for _ in range(4)]
        for username in usernames:
            fail(login, sprayer, username, 1)
    correlation_id = uuid.uuid4()
    response = login(sprayer, account.username, account.password, correlation_id)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > WINDOW - 60
    [refusal] = read_correlation(correlation_id)
    assert refusal.data["reason"] == "ip_locked"
    # The account itself is not locked: from another ip the right password works.
    assert login(client_from_fresh_ip(), account.username, account.password).status_code == 200


def test_nineteen_failures_from_one_ip_do_not_block_it(client_from_fresh_ip, account, login):
    sprayer = client_from_fresh_ip()
    for _ in range(19):
        fail(login, sprayer, fresh_username(), 1)
    assert login(sprayer, account.username, account.password).status_code == 200


def test_thresholds_come_from_settings(api, account, login, settings):
    settings.LOGIN_LOCKOUT_ATTEMPTS = 2
    assert fail(login, api, account.username, 3) == [401, 401, 429]


def _rows(username_keys, ips):
    failures = sorted(
        (str(f.event_id), f.username_key, f.ip, f.attempted_at)
        for f in LoginFailure.objects.filter(username_key__in=username_keys)
    )
    locks = sorted(
        (
            lock.scope,
            lock.key,
            lock.locked_at,
            lock.locked_until,
            lock.failed_attempts,
            str(lock.triggered_by),
        )
        for lock in LoginLockout.objects.filter(key__in=[*username_keys, *ips])
    )
    return failures, locks


def test_rebuilding_the_projection_from_the_log_gives_the_same_rows(client_from_fresh_ip, account, login):
    ip = fresh_ip()
    sprayer = client_from_fresh_ip(ip)
    others = [fresh_username() for _ in range(16)]
    fail(login, sprayer, account.username, 7)  # locks the username; two refusals
    for username in others:
        fail(login, sprayer, username, 1)  # the 15th locks the ip, the 16th is refused
    keys = [lockout.username_key(u) for u in [account.username, *others]]
    live = _rows(keys, [ip])
    assert len(live[0]) == 20 and len(live[1]) == 2
    rebuild_projection(LOGIN_SECURITY)
    assert _rows(keys, [ip]) == live
