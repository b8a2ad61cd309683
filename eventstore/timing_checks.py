"""Timing constants that only work together, checked by `manage.py check` (eventstore.E001).

- The stream runner renews its liveness key every HEARTBEAT_SECONDS and the
  key lives ALIVE_SECONDS: renewed any less often, it would lapse while the
  runner works, and writers would wake Celery instead.
- The relay renews its paced key every PACED_KEY_RENEW_SECONDS and the key
  lives PACED_KEY_SECONDS (eventstore.relay_pacing): the same, for writers that
  would then push again while the relay reads on its clock.
- The relay leaves its clock below PACE_BELOW_EVENTS_PER_SECOND and takes it
  above PACE_ABOVE_EVENTS_PER_SECOND: with the two the other way round, a
  steady rate between them would switch the mode at every measurement.
"""

from django.core import checks


def timing_problems() -> list[str]:
    from . import relay_pacing, stream_runner

    problems = []
    if not stream_runner.HEARTBEAT_SECONDS < stream_runner.ALIVE_SECONDS:
        problems.append(
            f"stream_runner.HEARTBEAT_SECONDS ({stream_runner.HEARTBEAT_SECONDS}) must be below "
            f"ALIVE_SECONDS ({stream_runner.ALIVE_SECONDS}): the runner's key would lapse between renewals"
        )
    if not relay_pacing.PACED_KEY_RENEW_SECONDS < relay_pacing.PACED_KEY_SECONDS:
        problems.append(
            f"relay_pacing.PACED_KEY_RENEW_SECONDS ({relay_pacing.PACED_KEY_RENEW_SECONDS}) must be below "
            f"PACED_KEY_SECONDS ({relay_pacing.PACED_KEY_SECONDS}): the paced key would lapse between renewals"
        )
    if not relay_pacing.PACE_BELOW_EVENTS_PER_SECOND < relay_pacing.PACE_ABOVE_EVENTS_PER_SECOND:
        problems.append(
            f"relay_pacing.PACE_BELOW_EVENTS_PER_SECOND ({relay_pacing.PACE_BELOW_EVENTS_PER_SECOND}) must be "
            f"below PACE_ABOVE_EVENTS_PER_SECOND ({relay_pacing.PACE_ABOVE_EVENTS_PER_SECOND}): "
            "the relay would switch between its modes at every measurement"
        )
    return problems


@checks.register()
def check_timing(app_configs, **kwargs) -> list[checks.CheckMessage]:
    return [checks.Error(problem, id="eventstore.E001") for problem in timing_problems()]
