"""Timing constants that only work together, checked by `manage.py check` (eventstore.E001).

- The stream runner renews its liveness key every HEARTBEAT_SECONDS and the
  key lives ALIVE_SECONDS: renewed any less often, it would lapse while the
  runner works, and writers would wake Celery instead.
- A writer that woke the runner's relay less than KICK_INTERVAL_SECONDS ago
  does not wake it again, trusting that the relay still polls the log, which
  it does for ACTIVE_SECONDS after a wake-up. That wake-up may itself have
  left up to COALESCE_SECONDS late; the relay must still be polling after both.
"""

from django.core import checks


def timing_problems() -> list[str]:
    from . import stream_runner, wakeups

    problems = []
    if not stream_runner.HEARTBEAT_SECONDS < stream_runner.ALIVE_SECONDS:
        problems.append(
            f"stream_runner.HEARTBEAT_SECONDS ({stream_runner.HEARTBEAT_SECONDS}) must be below "
            f"ALIVE_SECONDS ({stream_runner.ALIVE_SECONDS}): the runner's key would lapse between renewals"
        )
    unwoken = stream_runner.KICK_INTERVAL_SECONDS + wakeups.COALESCE_SECONDS
    if not unwoken < stream_runner.ACTIVE_SECONDS:
        problems.append(
            f"stream_runner.KICK_INTERVAL_SECONDS + wakeups.COALESCE_SECONDS ({unwoken}) must be below "
            f"stream_runner.ACTIVE_SECONDS ({stream_runner.ACTIVE_SECONDS}): commits would go unrelayed "
            "until the next sweep"
        )
    return problems


@checks.register()
def check_timing(app_configs, **kwargs) -> list[checks.CheckMessage]:
    return [checks.Error(problem, id="eventstore.E001") for problem in timing_problems()]
