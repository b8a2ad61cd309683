"""Coupled timing constants are checked by `manage.py check`, not only explained."""

from django.core.checks.registry import registry

from eventstore import stream_runner
from eventstore.timing_checks import check_timing, timing_problems


def test_the_shipped_constants_pass_the_check_that_manage_py_check_runs():
    assert check_timing in registry.get_checks()
    assert check_timing(app_configs=None) == []


def test_a_heartbeat_slower_than_the_liveness_key_fails_the_check(monkeypatch):
    monkeypatch.setattr(stream_runner, "HEARTBEAT_SECONDS", stream_runner.ALIVE_SECONDS)
    assert [problem for problem in timing_problems() if "HEARTBEAT_SECONDS" in problem]
