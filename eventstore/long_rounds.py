"""Rounds of the stream runner's loops that run far longer than any should, logged with where they are.

Every call a round makes to Postgres or Redis has a timeout, so a round ends
(or fails, and its loop logs the outage) within seconds. One that does not,
a loop stuck in a library, would otherwise stop its partition without a log
line, while the runner's heartbeat goes on saying it is alive. The runner's
heartbeat asks `report()` every second: a round past LONG_ROUND_SECONDS is a
WARNING with its thread's stack, once per round.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback

logger = logging.getLogger(__name__)

# A partition's longest ordinary round (three reads of a backlog, or a backfill
# from Postgres) lasts seconds, even on a loaded machine.
LONG_ROUND_SECONDS = 60.0


class LongRounds:
    """When each loop's current round began, read by another thread (thread-safe)."""

    def __init__(self, *, limit: float = LONG_ROUND_SECONDS, clock=time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._running: dict[str, tuple[int, float]] = {}  # loop → (thread id, began)
        self._reported: dict[str, float] = {}  # loop → when the round it reported began
        self._lock = threading.Lock()

    def began(self, loop: str) -> None:
        with self._lock:
            self._running[loop] = (threading.get_ident(), self._clock())

    def ended(self, loop: str) -> None:
        with self._lock:
            self._running.pop(loop, None)

    def report(self) -> list[str]:
        """Log each round past the limit that was not reported yet; return their loops."""
        now = self._clock()
        with self._lock:
            late = [
                (loop, ident, began)
                for loop, (ident, began) in self._running.items()
                if now - began >= self.limit and self._reported.get(loop) != began
            ]
            for loop, _ident, began in late:
                self._reported[loop] = began
        frames = sys._current_frames()
        for loop, ident, began in late:
            frame = frames.get(ident)
            stack = "".join(traceback.format_stack(frame)) if frame is not None else "(thread gone)\n"
            logger.warning(
                "stream runner %s: a round has run for %.0f s; it is at:\n%s",
                loop,
                now - began,
                stack.rstrip(),
            )
        return [loop for loop, _ident, _began in late]
