"""Running a subscriber over one partition: at least once, in order, effects once.

Only one consumer works a (subscriber, partition) at a time: it holds a
session advisory lock, so a worker killed mid-batch drops the lock with its
connection and the next consumer takes over. Consecutive events run in one
transaction that applies the handlers and then moves the subscriber's
checkpoint forward *only if it is still behind them*; a redelivered event
finds the checkpoint past it and its effects roll back. The checkpoint's write
comes last so that a handler's transaction takes a transaction id (and holds
the horizon back for every follower) only once it writes. If anything in a group
fails, the group rolls back and its events run one by one (retries, parking).

Every stream entry carries `prev`, the position of the partition's previous
event. If `prev` is past the checkpoint, entries were lost (trimmed, or a Redis
flush) and the consumer reads the missing events from Postgres first.
"""

from __future__ import annotations

import zlib

from django.db import connection

from .. import streams
from ..redis import get_redis
from ..subscribers import get_subscriber
from .partition import AlreadyProcessed, LockLost, SubscriberPartitionReader, read_together

__all__ = [
    "AlreadyProcessed",
    "LockLost",
    "StreamRunnerPartition",
    "StreamRunnerSubscriber",
    "SubscriberPartitionReader",
    "drain_subscriber_partition",
]


def _lock_key(subscriber: str, partition: int) -> int:
    return zlib.crc32(f"subscriber:{subscriber}:{partition}".encode())


def _try_lock(subscriber: str, partition: int) -> bool:
    """Take the (subscriber, partition) session lock if no other session holds it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_lock_key(subscriber, partition)])
        return cursor.fetchone()[0]


def drain_subscriber_partition(
    subscriber_name: str, partition: int, *, max_rounds: int = 20, hand_off: bool = False
) -> int:
    """Drain the partition for the subscriber if no one else is; return events handled.

    With `hand_off` (the Celery task), a long backlog is handled a bounded run
    at a time, each further run in a new task; otherwise this call goes on
    until the partition is drained.
    """
    subscriber = get_subscriber(subscriber_name)
    redis = get_redis()
    key = _lock_key(subscriber_name, partition)
    handled = 0
    rounds = 0
    while rounds < max_rounds:
        if not _try_lock(subscriber_name, partition):
            return handled  # the lock holder will see the dirty flag
        try:
            redis.delete(streams.dirty_key(subscriber_name, partition))
            consumer = SubscriberPartitionReader(subscriber, partition, redis)
            handled += consumer.drain()
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        if consumer.more and not hand_off:
            continue
        if consumer.more:
            # Leave the rest to a new task rather than holding this worker: the
            # mark makes sure the next drain of this partition goes on.
            redis.set(streams.dirty_key(subscriber_name, partition), 1)
            from ..tasks import consume_partition  # late: tasks imports this module

            consume_partition.apply_async((partition,), retry=False)
            break
        rounds += 1
        if not redis.exists(streams.dirty_key(subscriber_name, partition)):
            break
    return handled


class StreamRunnerSubscriber:
    """One subscriber on one partition for a long-running loop: the lock stays taken between runs.

    drain_subscriber_partition() takes and drops the lock and reads its checkpoint on every call,
    eight round trips before any work; a loop woken for every commit (the
    stream runner) keeps both instead, and an idle run is one read of Redis.
    If another process holds the lock, runs do nothing until it is free. The
    lock belongs to this thread's database session: when the session is
    closed (after an error), the lock is gone with it and is taken again.
    """

    def __init__(self, subscriber_name: str, partition: int, redis) -> None:
        self.subscriber_name = subscriber_name
        self.partition = partition
        self.redis = redis
        self.consumer: SubscriberPartitionReader | None = None

    @property
    def more(self) -> bool:
        return self.consumer is not None and self.consumer.more

    @property
    def ready(self) -> bool:
        """Holds its lock, so a woken run may go straight to reading (StreamRunnerPartition)."""
        return self.consumer is not None and self.consumer.holds_lock()

    def run(self, *, full_check: bool, max_reads: int = 3) -> int:
        """Handle what waits; `full_check` also looks for pending and lost entries (do it now and then)."""
        if self.consumer is None or not self.consumer.holds_lock():
            if not self._take_lock():
                return 0
            full_check = True
        elif full_check:
            self.consumer.reload_checkpoint()
        before = self.consumer.handled
        self.consumer.drain(max_reads, full_check=full_check)
        return self.consumer.handled - before

    def _take_lock(self) -> bool:
        self.consumer = None
        if not _try_lock(self.subscriber_name, self.partition):
            return False
        self.consumer = SubscriberPartitionReader(
            get_subscriber(self.subscriber_name), self.partition, self.redis
        )
        return True


class StreamRunnerPartition:
    """Every subscriber of one partition for the stream runner: their reads share round trips.

    Woken by the relay, each subscriber reads the new entries of its own
    consumer group; run one after the other, that was two Redis round trips
    per subscriber for every wake-up. Here the reads of all subscribers (each
    with the acknowledgement of its previous read) go in one pipeline, and the
    entries are then handled subscriber by subscriber, exactly as a lone
    consumer handles them. Thorough runs, and a subscriber that has to take
    its lock first, still run alone (StreamRunnerSubscriber.run).
    """

    def __init__(self, partition: int, subscriber_names: list[str], redis) -> None:
        self.redis = redis
        self.held = [StreamRunnerSubscriber(name, partition, redis) for name in subscriber_names]

    def run(self, *, full_check: bool, max_reads: int = 3) -> bool:
        """Handle what waits for every subscriber; True when some have more waiting."""
        together = []
        more = False
        for held in self.held:
            if full_check or not held.ready:
                held.run(full_check=full_check)
                more = more or held.more
            else:
                together.append(held.consumer)
        if together:
            read_together(self.redis, together, ">", max_reads)
            more = more or any(consumer.more for consumer in together)
        return more
