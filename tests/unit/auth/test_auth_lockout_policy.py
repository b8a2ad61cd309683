"""Pure parts of the lockout policy and session naming (no database)."""

import datetime as dt

import pytest
from django.test import override_settings

from auth_app import lockout
from auth_app.services.sessions import browser_session_id

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("typed", ["Alice", "ALICE", " alice ", "alice", "ａｌｉｃｅ"])
def test_username_key_ignores_case_compatibility_forms_and_surrounding_spaces(typed):
    assert lockout.username_key(typed) == lockout.username_key("alice")


def test_username_key_is_a_keyed_hash_that_does_not_give_back_the_name():
    key = lockout.username_key("alice@example.com")
    assert "alice" not in key and len(key) == 32
    assert key != lockout.username_key("bob@example.com")
    with override_settings(PERSONAL_DATA_MASTER_KEY="another-master-key-for-this-test-only-0123456789"):
        assert lockout.username_key("alice@example.com") != key  # keyed: not a plain hash anyone can compute


@pytest.mark.parametrize(
    ("seconds_left", "retry_after"),
    [(900, 900), (899.2, 900), (0.3, 1), (0, 1), (-5, 1)],
)
def test_retry_after_rounds_up_and_is_never_below_one(seconds_left, retry_after):
    assert lockout.retry_after_seconds(NOW + dt.timedelta(seconds=seconds_left), NOW) == retry_after


def test_defaults_are_five_attempts_twenty_per_ip_fifteen_minutes(settings):
    for name in (
        "LOGIN_LOCKOUT_ATTEMPTS",
        "LOGIN_IP_LOCKOUT_ATTEMPTS",
        "LOGIN_LOCKOUT_WINDOW_SECONDS",
        "LOGIN_LOCKOUT_SECONDS",
    ):
        if hasattr(settings, name):
            delattr(settings, name)
    assert lockout.attempts_limit() == 5
    assert lockout.ip_attempts_limit() == 20
    assert lockout.window() == lockout.lock_duration() == dt.timedelta(minutes=15)


def test_refusals_do_not_count_as_failures():
    assert {"locked", "ip_locked"}.isdisjoint(lockout.COUNTED_REASONS)


def test_browser_session_id_names_a_session_without_revealing_its_key():
    key = "abcdefghijklmnopqrstuvwxyz012345"
    assert browser_session_id(key) == browser_session_id(key)
    assert browser_session_id(key) != browser_session_id(key[::-1])
    assert len(browser_session_id(key)) == 16 and browser_session_id(key) not in key
