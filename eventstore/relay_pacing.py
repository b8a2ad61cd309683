"""When the stream runner's relay reads on a clock instead of after every commit.

At a low commit rate every commit wakes the relay (eventstore.wakeups), and a
round follows each commit within a few milliseconds. At a high rate those
rounds carry one or two events each, and a round's fixed cost does not shrink
with it: the writer's push, the relay's round trips to Postgres and Redis, and
the partitions' reads and transactions that each round sets off. On a machine
whose cores the writers share with the runner, that cost is taken from the
writers (docs/benchmarks.md, issue 24.6).

So the leading relay measures the rate it relays at, over RATE_WINDOW_SECONDS:

- above PACE_ABOVE_EVENTS_PER_SECOND it runs a round every PACED_ROUND_SECONDS
  and says so in Redis (streams.relay_paced_key()). A writer learns it from
  the answer to its next push (eventstore.wake_nudge) or to its next wake-up
  that waits for an answer, and stops pushing a wake-up after each commit
  until it asks again (KICK_INTERVAL_SECONDS after that wake-up). A commit
  then waits at most PACED_ROUND_SECONDS for the relay, and each round
  carries what the clock gathered;
- below PACE_BELOW_EVENTS_PER_SECOND it deletes the key, and keeps its clock
  for as long as a writer may still believe it paced (what the writer was
  told lasts KICK_INTERVAL_SECONDS from before it asked), plus a margin. Only
  then does it go back to waiting for pushes.

The partitions' consumers follow the same mode (stream_runner): while the
relay is paced, a partition woken sooner than
settings.STREAM_RUNNER_PACED_GATHER_SECONDS (50 ms) after its last round
started waits for the rest of that time before it reads, so its reads and
transactions carry what 50 ms brought instead of what one 20 ms relay round
sent; a partition with more waiting than one round reads (a backlog) goes on
at once.

The two rates lie well apart, so a steady rate between them does not switch
the mode back and forth, and both lie above the 200 events/s at which the
commit-to-handler latency is promised (issue 24.7). Nothing here decides
whether an event is delivered: a commit the clock does not reach is found
by the relay's poll, as a lost wake-up is.
"""

from __future__ import annotations

import logging
import time

from . import streams

logger = logging.getLogger(__name__)

PACE_ABOVE_EVENTS_PER_SECOND = 500
PACE_BELOW_EVENTS_PER_SECOND = 250
RATE_WINDOW_SECONDS = 0.25
PACED_ROUND_SECONDS = 0.02
# The key lives this long after each renewal: a relay that stops leading (its
# session lost) no longer renews it, and writers push again soon.
PACED_KEY_SECONDS = 1.0
PACED_KEY_RENEW_SECONDS = 0.25
GRACE_MARGIN_SECONDS = 0.25


class RelayPacer:
    """The leading relay's choice between rounds per wake-up and rounds on a clock."""

    def __init__(self, redis, *, writers_forget_after: float, clock=time.monotonic) -> None:
        self.redis = redis
        self.writers_forget_after = writers_forget_after  # how long a writer trusts one answer
        self.clock = clock
        self.paced = False
        self._clock_until = 0.0  # rounds stay on the clock until then (paced, or the grace after)
        self._window_started = clock()
        self._window_events = 0
        self._renewed_at = 0.0

    @property
    def on_clock(self) -> bool:
        return self.paced or self.clock() < self._clock_until

    def after_round(self, sent: int) -> float | None:
        """Count a round's events; return the pause before the next round, or None to wait for a wake-up.

        Redis errors are raised with the mode unchanged: the key is written
        before the mode follows it.
        """
        now = self.clock()
        self._window_events += sent
        elapsed = now - self._window_started
        if elapsed >= RATE_WINDOW_SECONDS:
            rate = self._window_events / elapsed
            if not self.paced and rate > PACE_ABOVE_EVENTS_PER_SECOND:
                self._set_key(now)
                self.paced = True
                logger.info(
                    "relay: %.0f events/s; reading every %.0f ms, commits no longer wake it",
                    rate,
                    PACED_ROUND_SECONDS * 1000,
                )
            elif self.paced and rate < PACE_BELOW_EVENTS_PER_SECOND:
                self.redis.delete(streams.relay_paced_key())
                self.paced = False
                self._clock_until = self.clock() + self.writers_forget_after + GRACE_MARGIN_SECONDS
                logger.info("relay: %.0f events/s; woken by every commit again", rate)
            self._window_started, self._window_events = now, 0
        if self.paced and now - self._renewed_at >= PACED_KEY_RENEW_SECONDS:
            self._set_key(now)
        return PACED_ROUND_SECONDS if self.on_clock else None

    def _set_key(self, now: float) -> None:
        self.redis.set(streams.relay_paced_key(), 1, px=int(PACED_KEY_SECONDS * 1000))
        self._renewed_at = now

    def stand_down(self) -> None:
        """The runner stops: writers push again (a relay that leads after it starts unpaced)."""
        if self.paced:
            self.redis.delete(streams.relay_paced_key())
            self.paced = False
