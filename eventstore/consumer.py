"""Running a subscriber over one partition: at least once, in order, effects once.

Only one consumer works a (subscriber, partition) at a time: it holds a
session advisory lock, so a worker killed mid-batch drops the lock with its
connection and the next consumer takes over. Each handled event runs in one
transaction that first moves the subscriber's checkpoint forward *only if it
is still behind the event* and then applies the handler; a redelivered event
finds the checkpoint past it and has no second effect.

Every stream entry carries `prev`, the position of the partition's previous
event. If `prev` is past the checkpoint, entries were lost (trimmed, or a Redis
flush) and the consumer reads the missing events from Postgres first.
"""

from __future__ import annotations

import logging
import time
import zlib

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from platform_site.redis_connection import get_redis

from . import streams
from .context import caused_by
from .envelope import RecordedEvent
from .models import Checkpoint, ParkedEvent
from .reading import read_all, reveal_event
from .relay import ensure_groups, relay_partition_checkpoint, subscriber_checkpoint_name
from .subscribers import Subscriber, get_subscriber

logger = logging.getLogger(__name__)
CONSUMER_NAME = "owner"  # one consumer per group and partition at a time (the lock holder)
READ_COUNT = 200


class AlreadyProcessed(Exception):
    """The checkpoint is already past this event: roll back, nothing to do."""


class LockLost(Exception):
    """The database session that holds the partition's lock is gone: stop consuming.

    A reconnect (e.g. after a shutdown signal broke a query) gives a new session
    without the advisory lock, so another consumer may already own the partition.
    """


def _lock_key(subscriber: str, partition: int) -> int:
    return zlib.crc32(f"subscriber:{subscriber}:{partition}".encode())


def consume(subscriber_name: str, partition: int, *, max_rounds: int = 20) -> int:
    """Drain the partition for the subscriber if no one else is; return events handled."""
    subscriber = get_subscriber(subscriber_name)
    redis = get_redis()
    key = _lock_key(subscriber_name, partition)
    handled = 0
    for _ in range(max_rounds):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            if not cursor.fetchone()[0]:
                return handled  # the lock holder will see the dirty flag
        try:
            redis.delete(streams.dirty_key(subscriber_name, partition))
            handled += _PartitionConsumer(subscriber, partition, redis).drain()
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        if not redis.exists(streams.dirty_key(subscriber_name, partition)):
            break
    return handled


class _PartitionConsumer:
    def __init__(self, subscriber: Subscriber, partition: int, redis) -> None:
        self.subscriber = subscriber
        self.partition = partition
        self.redis = redis
        self.stream_key = streams.partition_key(partition)
        self.group = streams.group_name(subscriber.name)
        self.checkpoint_name = subscriber_checkpoint_name(subscriber.name, partition)
        Checkpoint.objects.get_or_create(name=self.checkpoint_name)
        self.checkpoint = Checkpoint.objects.get(name=self.checkpoint_name).position
        self.handled = 0
        # The session-level lock belongs to this backend; see _ensure_lock_held.
        self.backend_pid = connection.connection.info.backend_pid

    def _ensure_lock_held(self) -> None:
        raw = connection.connection
        if raw is None or raw.closed or raw.info.backend_pid != self.backend_pid:
            raise LockLost(f"{self.subscriber.name} p{self.partition}: database session changed")

    def drain(self) -> int:
        for start in ("0", ">"):  # first what a killed consumer left unacknowledged, then new
            while entries := self._read(start):
                for entry_id, fields in entries:
                    self._handle_entry(fields)
                    self.redis.xack(self.stream_key, self.group, entry_id)
                self._save_skipped_checkpoint()
        # Entries the relay sent that Redis no longer has (trimmed, flushed) and
        # that no later entry's `prev` points past: read them from Postgres.
        relayed = (
            Checkpoint.objects.filter(name=relay_partition_checkpoint(self.partition))
            .values_list("position", flat=True)
            .first()
        )
        if relayed and relayed > self.checkpoint:
            self._backfill(until=relayed + 1)
            self._save_skipped_checkpoint()
        return self.handled

    def _read(self, start: str) -> list:
        try:
            reply = self.redis.xreadgroup(
                self.group, CONSUMER_NAME, {self.stream_key: start}, count=READ_COUNT
            )
        except Exception as exc:
            if "NOGROUP" not in str(exc):
                raise
            ensure_groups(self.redis, range(self.partition, self.partition + 1))
            return []
        if not reply:
            return []
        entries = reply[0][1]
        # Reading "0" returns pending entries; an empty list means none are left.
        return [(entry_id, fields) for entry_id, fields in entries if fields]

    def _handle_entry(self, fields: dict) -> None:
        position = int(fields[b"position"])
        if position <= self.checkpoint:
            return  # sent again by the relay; handled before
        if int(fields[b"prev"]) > self.checkpoint:
            self._backfill(until=position)
        # The relay sends events as stored; open and upcast them now, so a key
        # forgotten since the relay ran is honoured.
        self._process(reveal_event(streams.decode(fields[b"event"])))

    def _backfill(self, *, until: int) -> None:
        """Read the events of this partition that Redis lost, straight from the log."""
        logger.warning(
            "%s p%s: entries missing before %s, reading them from Postgres",
            self.subscriber.name,
            self.partition,
            until,
        )
        after = self.checkpoint
        while True:
            batch = read_all(after=after, limit=1000)
            for event in batch:
                if event.position >= until:
                    return
                if streams.partition_of(event.stream_id) == self.partition:
                    self._process(event)
            if not batch:
                return
            after = batch[-1].position

    def _process(self, event: RecordedEvent) -> None:
        handler = self.subscriber.handler_for(event.type)
        if handler is None:
            self.checkpoint = event.position  # saved with the next handled event or batch end
            return
        if self._blocked_by_parked(event):
            self._park(event, f"waiting: an earlier event of {event.stream_id} is parked", attempts=0)
            return
        for attempt in range(1, settings.SUBSCRIBER_MAX_ATTEMPTS + 1):
            self._ensure_lock_held()
            try:
                with transaction.atomic():
                    self._advance_checkpoint(event.position)
                    with caused_by(event.id, event.correlation_id):
                        handler(event)
                self.handled += 1
                self.checkpoint = event.position
                return
            except AlreadyProcessed:
                self.checkpoint = event.position
                return
            except Exception as exc:
                if connection.connection is None or not connection.is_usable():
                    # Not the handler's fault (e.g. a shutdown signal broke the
                    # session): stop here; the event stays unacknowledged and unparked.
                    raise LockLost(f"database session broken: {exc!r}") from exc
                logger.warning(
                    "%s failed on %s (attempt %d): %r", self.subscriber.name, event.id, attempt, exc
                )
                if attempt == settings.SUBSCRIBER_MAX_ATTEMPTS:
                    self._park(event, f"{type(exc).__name__}: {exc}", attempts=attempt)
                    return
                time.sleep(settings.SUBSCRIBER_RETRY_BASE_SECONDS * 4 ** (attempt - 1))

    def _advance_checkpoint(self, position: int) -> None:
        updated = Checkpoint.objects.filter(name=self.checkpoint_name, position__lt=position).update(
            position=position, updated_at=timezone.now()
        )
        if not updated:
            raise AlreadyProcessed

    def _blocked_by_parked(self, event: RecordedEvent) -> bool:
        return ParkedEvent.objects.filter(
            subscriber=self.subscriber.name, stream_id=event.stream_id, resolved_at__isnull=True
        ).exists()

    def _park(self, event: RecordedEvent, error: str, *, attempts: int) -> None:
        self._ensure_lock_held()
        with transaction.atomic():
            try:
                self._advance_checkpoint(event.position)
            except AlreadyProcessed:
                return
            ParkedEvent.objects.get_or_create(
                subscriber=self.subscriber.name,
                event_id=event.id,
                defaults={
                    "position": event.position,
                    "stream_id": event.stream_id,
                    "event_type": event.type,
                    "error": error[:4000],
                    "attempts": attempts,
                },
            )
        self.checkpoint = event.position
        logger.error("%s parked event %s (%s): %s", self.subscriber.name, event.id, event.type, error)

    def _save_skipped_checkpoint(self) -> None:
        Checkpoint.objects.filter(name=self.checkpoint_name, position__lt=self.checkpoint).update(
            position=self.checkpoint, updated_at=timezone.now()
        )
