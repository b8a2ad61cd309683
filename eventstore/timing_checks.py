"""Timing constants that only work together, checked by `manage.py check` (eventstore.E001).

- The stream runner renews its liveness key every HEARTBEAT_SECONDS and the
  key lives ALIVE_SECONDS: renewed any less often, it would lapse while the
  runner works, and writers would wake Celery instead.
"""

from django.core import checks


def timing_problems() -> list[str]:
    from . import stream_runner

    problems = []
    if not stream_runner.HEARTBEAT_SECONDS < stream_runner.ALIVE_SECONDS:
        problems.append(
            f"stream_runner.HEARTBEAT_SECONDS ({stream_runner.HEARTBEAT_SECONDS}) must be below "
            f"ALIVE_SECONDS ({stream_runner.ALIVE_SECONDS}): the runner's key would lapse between renewals"
        )
    return problems


@checks.register()
def check_timing(app_configs, **kwargs) -> list[checks.CheckMessage]:
    return [checks.Error(problem, id="eventstore.E001") for problem in timing_problems()]
