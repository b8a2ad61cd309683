"""The stream runner: the relay and every subscriber as long-running loops, for low latency.

Through Celery alone, each wake-up is a task hop (queue, prefork worker, task
start) and every subscriber waits for its turn in the pool; that costs seconds
under a steady load. The runner (`manage.py run_event_streams`) keeps the same
work in threads that block on Redis instead:

- a commit pushes to the relay's wake list (eventstore.wakeups: right after a
  wake-up that found the runner alive, without waiting for the answer), and
  the relay thread, blocked on it (BLPOP), relays at once;
- the relay pushes to the wake list of each partition it wrote to, and that
  partition's thread, blocked on it, drains the partition for every subscriber.

Nothing about the guarantees changes: it is the same relay (its advisory lock
and checkpoint) and the same consumer (a lock and a checkpoint per subscriber
and partition) as the Celery tasks, so runners and workers may run together
and take over from one another. While a runner is alive its keys in Redis say
so (one for the relay, one per partition it consumes; renewed every second,
they expire 3 s after the runner stops), and commits wake the runner instead
of queueing tasks, partition by partition. When no runner is alive, commits
and beat's sweep fall back to Celery tasks: slower, but nothing waits forever.
Each loop also wakes by itself every `poll_seconds`, so a lost wake-up costs
at most that long.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import redis
from django.conf import settings
from django.db import DatabaseError, connection

from . import streams
from .consumer import LockLost, StreamRunnerPartition
from .long_rounds import LongRounds
from .outage import Outage, service_of
from .redis import REDIS_ERRORS, get_redis
from .redis_location import RedisLocation
from .relay import RelayResult, StreamRunnerRelay, relay_pending
from .relay_pacing import RelayPacer
from .subscribers import registered_subscribers

logger = logging.getLogger(__name__)

# The runner's key outlives its last renewal by ALIVE_SECONDS; renewed more often than
# that (eventstore/timing_checks.py checks these pairs).
ALIVE_SECONDS = 3
HEARTBEAT_SECONDS = 1.0
# Capped low: after Redis or Postgres comes back, a loop resumes within this
# long (the pause doubles from 0.5 s while the service stays down).
MAX_BACKOFF_SECONDS = 2.0
STOP_CHECK_SECONDS = 1.0
HORIZON_RETRY_SECONDS = 0.002  # first pause when committed events wait on an open transaction
# A writer whose wake-up found a runner alive pushes its next wake-ups for this
# long without waiting for an answer, then asks again (eventstore.wakeups).
KICK_INTERVAL_SECONDS = 0.5
RELAY_ROUND_BATCHES = 50  # batches a relay round sends at most before it looks again
# What a loop survives by logging, backing off and trying again: the services
# being down or restarted, or a consumer session that lost its lock.
RECOVERABLE = (DatabaseError, *REDIS_ERRORS, LockLost)


def runner_alive(client: redis.Redis, partition: int | None = None) -> bool:
    """Is a runner relaying (or, given a partition, consuming that partition)?"""
    return bool(client.exists(streams.runner_key(partition)))


def push_wake(pipe, key: str) -> None:
    """One pending wake-up is enough: the woken loop handles everything there is."""
    pipe.lpush(key, 1)
    pipe.ltrim(key, 0, 0)


class StreamRunner:
    """Threads: one relay, one consumer per partition; `heartbeat()` from the caller's thread."""

    def __init__(
        self,
        *,
        partitions: Iterable[int] | None = None,
        poll_seconds: float = 1.0,
        alive_file: str | None = None,
    ) -> None:
        self.partitions = list(range(streams.partition_count()) if partitions is None else partitions)
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.alive_file = Path(alive_file) if alive_file else None
        self._held_back_for = 0.0
        self._relay = StreamRunnerRelay()
        self._caught_up = False  # the last round, as the leader, sent everything below the horizon
        self._heartbeat_outage = Outage(logger, "stream runner heartbeat: Redis")
        self._long_rounds = LongRounds()
        subscribers = sorted(registered_subscribers())
        self._held = {p: StreamRunnerPartition(p, subscribers, get_redis()) for p in self.partitions}
        # Blocking reads need a socket timeout longer than the block; the
        # platform's shared client (get_redis) times out sooner on purpose.
        self.redis = RedisLocation.parse(settings.REDIS_URL).client(
            socket_timeout=STOP_CHECK_SECONDS + settings.REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
            health_check_interval=30,
        )
        self._pacer = RelayPacer(self.redis, writers_forget_after=KICK_INTERVAL_SECONDS)
        # The relay's paced key as the last heartbeat found it, whichever runner leads: a runner
        # whose relay does not lead learns the mode from it (_consume_round).
        self._paced_key_seen = False
        self._consumed_at = dict.fromkeys(self.partitions, 0.0)  # when each partition's last round began
        self._more = dict.fromkeys(self.partitions, False)  # its last round left entries to read

    def start(self) -> None:
        self.heartbeat()  # before the loops: commits from now on wake this runner
        self._spawn("relay", self._relay_round, streams.relay_wake_key())
        for partition in self.partitions:
            self._spawn(
                f"partition-{partition}",
                lambda woken, p=partition: self._consume_round(p, woken),
                streams.partition_wake_key(partition),
            )

    def stop(self, timeout: float = 30.0) -> None:
        """Let every loop finish its round, then say the runner is gone (commits use Celery again)."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout)
        try:
            self._pacer.stand_down()
            self.redis.delete(*self._keys())
        except REDIS_ERRORS as exc:
            logger.warning("stream runner: could not clear its key (%r); it expires by itself", exc)
        self.redis.close()

    def heartbeat(self) -> None:
        if self.alive_file is not None:
            self.alive_file.touch()
        self._long_rounds.report()
        try:
            pipe = self.redis.pipeline(transaction=False)
            for key in self._keys():
                pipe.set(key, 1, ex=ALIVE_SECONDS)
            pipe.exists(streams.relay_paced_key())
            self._paced_key_seen = bool(pipe.execute()[-1])
        except REDIS_ERRORS as exc:
            # Commits then wake Celery instead (or nothing, with Redis down): the
            # loops go on polling, and nothing committed is lost.
            self._heartbeat_outage.failed(exc, retry_in=HEARTBEAT_SECONDS)
        else:
            self._heartbeat_outage.succeeded()

    def _keys(self) -> list[str]:
        return [streams.runner_key()] + [streams.runner_key(p) for p in self.partitions]

    def run_until_stopped(self) -> None:
        """The caller's thread renews the heartbeat until `stopping` is set."""
        while not self.stopping.wait(HEARTBEAT_SECONDS):
            self.heartbeat()

    def _spawn(self, name: str, round_: Callable[[bool], float | None], wake_key: str) -> None:
        thread = threading.Thread(
            target=self._loop, args=(name, round_, wake_key), name=f"streams-{name}", daemon=True
        )
        thread.start()
        self.threads.append(thread)

    def _loop(self, name: str, round_: Callable[[bool], float | None], wake_key: str) -> None:
        """Run rounds: when woken by a push (`woken`), else every poll period, or soon if a round asks."""
        backoff = 0.5
        woken = False
        # One line when a service goes away and one when it is back, not one per retry.
        outages = {
            service: Outage(logger, f"stream runner {name}: {service}") for service in ("Redis", "PostgreSQL")
        }
        try:
            while not self.stopping.is_set():
                try:
                    self._long_rounds.began(name)
                    try:
                        again_in = round_(woken)
                    finally:
                        self._long_rounds.ended(name)
                    backoff = 0.5
                    for outage in outages.values():
                        outage.succeeded()
                    if again_in is None:  # caught up: sleep until woken, or poll
                        woken = self._wait_for_wake(wake_key, self.poll_seconds)
                    elif again_in == 0:
                        woken = True
                    else:
                        # A short pause. Not BLPOP: Redis ends blocking calls on its
                        # 100 ms clock (hz 10), whatever the timeout asked for.
                        self.stopping.wait(again_in)
                        woken = False
                except LockLost as exc:
                    woken = False
                    logger.warning("stream runner %s: %s; trying again in %.1f s", name, exc, backoff)
                    connection.close()
                    self.stopping.wait(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                except RECOVERABLE as exc:
                    woken = False
                    outages[service_of(exc)].failed(exc, retry_in=MAX_BACKOFF_SECONDS)
                    connection.close()  # a broken session must not be reused
                    self.stopping.wait(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                except Exception:
                    # A bug, not an outage: say so loudly, but keep the other loops
                    # and this one going (the events stay in the log and the stream).
                    woken = False
                    logger.exception("stream runner %s: unexpected error", name)
                    connection.close()
                    self.stopping.wait(MAX_BACKOFF_SECONDS)
        finally:
            connection.close()  # this thread's own Django connection

    def _wait_for_wake(self, wake_key: str, seconds: float) -> bool:
        """Block until woken (True) or `seconds` are over (False), looking at `stopping` every second."""
        until = time.monotonic() + seconds
        while not self.stopping.is_set():
            left = until - time.monotonic()
            if left <= 0:
                return False
            if self.redis.blpop([wake_key], timeout=min(left, STOP_CHECK_SECONDS)):
                return True
        return False

    def _relay_batch(self) -> RelayResult:
        return self._relay.batch(wake=self._wake_partitions)

    @staticmethod
    def _wake_partitions(pipe, partitions: set[int]) -> None:
        """In the relay's own round trip to Redis: the consumers start while it saves its checkpoints."""
        for partition in sorted(partitions):
            push_wake(pipe, streams.partition_wake_key(partition))

    def _relay_round(self, woken: bool) -> float | None:
        """Relay what there is; return how soon to look again (None: when woken, or at the poll).

        Every commit wakes the relay (eventstore.wakeups), and wake-ups pushed
        while a round runs leave one behind (push_wake), so the next round
        starts as soon as this one ends. Under a high commit rate the relay
        runs on a clock instead, and commits stop waking it
        (eventstore.relay_pacing). Unwoken, at the poll, it looks for events
        past its checkpoint first, in case a wake-up was lost.
        """
        if (
            not woken
            and not self._held_back_for
            and self._caught_up
            and not self._pacer.on_clock  # on the clock, a round almost always finds events
            and not self._relay.has_new_events()
        ):
            return None
        # Caught up only once this round has sent everything below the horizon, as
        # the leader: a round that fails (Redis down), stops at its batch limit or
        # finds another runner leading leaves it unset, so the next poll relays
        # again (or tries to take the lead) instead of waiting for a commit that
        # may never come.
        self._caught_up = False
        sent, _partitions, held_back = relay_pending(RELAY_ROUND_BATCHES, batch=self._relay_batch)
        if self._relay.checkpoints is None:
            # Another runner leads: try to take over at the next poll, so a leader that died
            # is replaced within `poll_seconds`. Until then this thread does not wait on the
            # wake list: a commit's one wake-up taken here would not reach the leader.
            return self.poll_seconds
        self._caught_up = sent < settings.RELAY_BATCH_SIZE * RELAY_ROUND_BATCHES
        pause = self._pacer.after_round(sent)
        if held_back:
            # Committed, but an older transaction is still open: it usually ends
            # within milliseconds. While rounds make progress, look again soon;
            # back off towards the poll period only for one that stays open.
            if sent:
                self._held_back_for = HORIZON_RETRY_SECONDS
            else:
                self._held_back_for = min(
                    self.poll_seconds, max(HORIZON_RETRY_SECONDS, self._held_back_for * 2)
                )
            return self._held_back_for
        self._held_back_for = 0.0
        if not self._caught_up:
            return 0.0  # stopped at its batch limit: on at once
        return pause  # None: when woken (or at the poll); on the clock, its next tick

    def _consume_round(self, partition: int, woken: bool) -> float | None:
        """Run every subscriber over the partition; again at once if any has more waiting.

        Woken by the relay, only new entries are read; on a poll (and after an
        error) each subscriber also looks for pending entries and lost ones.
        """
        if self.stopping.is_set():
            return None
        if woken and not self._more[partition] and (self._pacer.paced or self._paced_key_seen):
            # Under a high commit rate (eventstore.relay_pacing) each 20 ms relay round wakes
            # the partition; rounds at least STREAM_RUNNER_PACED_GATHER_SECONDS apart carry more
            # events each, for less of the runner side's CPU per event (figure 24.6 in
            # docs/benchmarks.md). What waits meanwhile stays in the stream: a runner stopped
            # here leaves it to the next consumer of the partition.
            started = self._consumed_at[partition]
            wait = started + settings.STREAM_RUNNER_PACED_GATHER_SECONDS - time.monotonic()
            if wait > 0 and self.stopping.wait(wait):
                return None
        self._consumed_at[partition] = time.monotonic()
        self._more[partition] = self._held[partition].run(full_check=not woken)
        return 0.0 if self._more[partition] else None
