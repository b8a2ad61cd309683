"""Coupled timing constants are checked by `manage.py check`, not only explained."""

from django.core.checks.registry import registry

from eventstore import relay_pacing, stream_runner
from eventstore.timing_checks import check_timing, timing_problems


def test_the_shipped_constants_pass_the_check_that_manage_py_check_runs():
    assert check_timing in registry.get_checks()
    assert check_timing(app_configs=None) == []


def test_a_heartbeat_slower_than_the_liveness_key_fails_the_check(monkeypatch):
    monkeypatch.setattr(stream_runner, "HEARTBEAT_SECONDS", stream_runner.ALIVE_SECONDS)
    assert [problem for problem in timing_problems() if "HEARTBEAT_SECONDS" in problem]


def test_a_paced_key_renewed_slower_than_it_lives_fails_the_check(monkeypatch):
    monkeypatch.setattr(relay_pacing, "PACED_KEY_RENEW_SECONDS", relay_pacing.PACED_KEY_SECONDS)
    assert [problem for problem in timing_problems() if "PACED_KEY_RENEW_SECONDS" in problem]


def test_pacing_thresholds_the_wrong_way_round_fail_the_check(monkeypatch):
    monkeypatch.setattr(
        relay_pacing, "PACE_BELOW_EVENTS_PER_SECOND", relay_pacing.PACE_ABOVE_EVENTS_PER_SECOND
    )
    assert [problem for problem in timing_problems() if "PACE_BELOW_EVENTS_PER_SECOND" in problem]
