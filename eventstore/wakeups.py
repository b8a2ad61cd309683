"""Waking the relay after a commit, and when a commit need not.

A commit's events wait in Postgres until the relay reads them; the wake-up
only says "read now". It goes to a live stream runner's relay if there is one,
else it marks the relay dirty and queues a Celery relay task unless one is due
already (one Redis round trip, a Lua script). That round trip was the largest
single cost of a one-event transaction on the client, so a process makes it
as rarely as it safely can:

- A process whose wake-up found a live runner less than KICK_INTERVAL_SECONDS
  ago pushes its next ones without waiting for Redis' answer
  (eventstore.wake_nudge): a `send`, no round trip, and the relay starts at once.
  If that wake-up found the runner's relay on its clock (a high commit rate,
  eventstore.relay_pacing), the process sends nothing at all until it asks again.
- Without a runner, a process wakes the relay at most once per
  COALESCE_SECONDS. A commit inside that window only notes that a wake-up is
  owed, and the process's waker thread sends it when the window ends. Every commit is therefore
  followed by a wake-up sent after it, at most COALESCE_SECONDS late, so the
  relay task that wake-up leads to reads the commit's events. Under load this
  turns a round trip per commit into one per window; a lone commit's wake-up
  leaves at once.
- The waker thread sleeps until the window it opened ends, whether or not a
  wake-up is owed yet, and waits to be told only once a window ended with
  nothing owed. Under load, the commits of a window therefore never wake the
  thread: it runs once per window, to send.

Should a process die with a wake-up owed, or Redis be down, beat's sweep
relays what waits (every 2 s): nothing is lost, only later.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from functools import lru_cache

from . import streams
from .redis import REDIS_ERRORS, get_redis
from .stream_runner import KICK_INTERVAL_SECONDS
from .wake_nudge import WakeNudge

logger = logging.getLogger(__name__)
COALESCE_SECONDS = 0.025
DIRTY_TTL_SECONDS = 30
# What the kick script answers (0: a Celery task is due already).
CELERY_TASK_DUE, RUNNER_WOKEN, RUNNER_PACED = 1, 2, 3

# One round trip: wake a live stream runner's relay (2), or say that it reads
# on its clock and needs no wake-up (3), or else mark the relay dirty and say
# whether the mark is new (1: a Celery task is due).
_KICK_RELAY_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then
    if redis.call('EXISTS', KEYS[4]) == 1 then
        return 3
    end
    redis.call('LPUSH', KEYS[2], 1)
    redis.call('LTRIM', KEYS[2], 0, 0)
    return 2
end
if redis.call('SET', KEYS[3], 1, 'NX', 'EX', ARGV[1]) then
    return 1
end
return 0
"""


def relay_dirty_key() -> str:
    """In the slot of the other keys the kick script touches (streams.RELAY_TAG)."""
    return f"{streams.epoch_key()}:relay-dirty"


@lru_cache(maxsize=1)
def _kick_relay_script():
    # Bound to the process's one client (get_redis is cached too); redis-py
    # sends the script by hash and loads it again after a Redis restart.
    return get_redis().register_script(_KICK_RELAY_LUA)


class RelayWaker:
    """This process's wake-ups of the relay (one per process; see the module docstring).

    Owed wake-ups are sent by one daemon thread of the process, started the
    first time one is owed.
    """

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock  # a monotonic clock; tests put one of their own here
        self._generation = 0
        self._condition: threading.Condition | None = None
        self._sender: threading.Thread | None = None
        self._nudge: WakeNudge | None = None
        self.reset()

    def reset(self, *, forked: bool = False) -> None:
        """Forget every wake-up sent or owed (a forked child; a test that needs a clean start)."""
        self._generation += 1  # a sender thread of an earlier generation stops ...
        if self._condition is not None and not forked:
            with self._condition:
                self._condition.notify_all()  # ... once it wakes up to see it: wait for that
            if self._sender is not None and self._sender is not threading.current_thread():
                self._sender.join(timeout=5)
        # A new lock: a forked child may have inherited the old one held, and has no sender thread.
        self._condition = threading.Condition(threading.Lock())
        # A forked child leaves the parent's connection alone (redis-py closes it there without
        # shutting it down) and opens its own.
        if not forked and self._nudge is not None:
            self._nudge.close()
        self._nudge = WakeNudge()
        self._sender: threading.Thread | None = None
        self.runner_woken_at: float | None = None  # when this process last woke a live runner
        # Until then this process's commits need not wake the runner: its relay reads on a clock.
        self.runner_paced_until = 0.0
        self._quiet_until = 0.0  # no Celery-path wake-up before this (monotonic clock)
        self._owed = False
        self._sender_idle = False  # the sender waits to be told (no window open): notify it

    def after_commit(self) -> None:
        """A transaction that recorded events has committed: wake the relay, now or soon."""
        now = self.clock()
        if self.runner_woken_at is not None and now - self.runner_woken_at < KICK_INTERVAL_SECONDS:
            if now < self.runner_paced_until:
                return  # its relay reads on a clock meanwhile (eventstore.relay_pacing)
            try:
                paced_at = self._nudge.push(now)
                if paced_at is not None:
                    self.runner_paced_until = max(self.runner_paced_until, paced_at + KICK_INTERVAL_SECONDS)
                return
            except REDIS_ERRORS:
                # Its connection broke, or the key moved to another server: the usual
                # wake-up below says what is wrong, and checks again that a runner is alive.
                self.runner_woken_at = None
        with self._condition:
            if now < self._quiet_until:
                self._owed = True
                if self._sender is None:
                    self._sender = threading.Thread(
                        target=self._send_owed, args=(self._generation,), name="relay-waker", daemon=True
                    )
                    self._sender.start()
                elif self._sender_idle:
                    self._condition.notify()
                # Otherwise the sender already sleeps until this window ends, and sends then.
                return
            self._quiet_until = now + COALESCE_SECONDS
            self._owed = False  # the wake-up sent now follows every commit so far
        self._wake(now)

    def flush(self) -> None:
        """Send a wake-up that is owed now rather than when its window ends (process exit)."""
        with self._condition:
            owed, self._owed = self._owed, False
        if owed:
            self._wake(self.clock())

    def _send_owed(self, generation: int) -> None:
        condition = self._condition
        while True:
            with condition:
                while generation == self._generation:
                    delay = self._quiet_until - self.clock()
                    if delay > 0:
                        condition.wait(delay)  # to the window's end: its commits need not notify
                    elif self._owed:
                        break
                    else:
                        self._sender_idle = True
                        condition.wait()
                        self._sender_idle = False
                if generation != self._generation:
                    return
                self._owed = False
                now = self.clock()
                self._quiet_until = now + COALESCE_SECONDS
            self._wake(now)

    def _wake(self, now: float) -> None:
        """Never raises: the sweep catches up if this fails."""
        from .tasks import relay_events  # late: tasks imports this module

        try:
            keys = [
                streams.runner_key(),
                streams.relay_wake_key(),
                relay_dirty_key(),
                streams.relay_paced_key(),
            ]
            outcome = _kick_relay_script()(keys=keys, args=[DIRTY_TTL_SECONDS])
            # Paced first: a commit that reads the two between these lines sees
            # runner_woken_at still lapsed (it is only set again once lapsed) and asks.
            self.runner_paced_until = now + KICK_INTERVAL_SECONDS if outcome == RUNNER_PACED else 0.0
            self.runner_woken_at = now if outcome in (RUNNER_WOKEN, RUNNER_PACED) else None
            if outcome == CELERY_TASK_DUE:
                relay_events.apply_async(retry=False)
        except Exception as exc:  # Redis down: the events wait safely in Postgres
            logger.warning("could not wake the relay (%r); the periodic sweep will relay later", exc)


relay_waker = RelayWaker()
# A forked child (a Celery or gunicorn worker) starts with no sender thread and owes nothing.
os.register_at_fork(after_in_child=lambda: relay_waker.reset(forked=True))
atexit.register(relay_waker.flush)
