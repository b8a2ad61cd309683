"""One subscriber over one partition: reading entries, groups, backfill, parking."""

from __future__ import annotations

import logging
import time
from collections import deque

from django.conf import settings
from django.db import connection, transaction
from redis.exceptions import ResponseError

from .. import delivery_ledger, prepared, privacy, streams, tracing
from ..advisory_locks import session_pid, still_holds
from ..backfills import record_backfill
from ..context import caused_by
from ..envelope import RecordedEvent
from ..models import Checkpoint, ParkedEvent
from ..parking import lock_parked_stream
from ..reading import read_all, reveal_event
from ..redis import REDIS_ERRORS, after_redis_error
from ..relay import ensure_groups, relay_partition_checkpoint, subscriber_checkpoint_name
from ..subscribers import Subscriber

logger = logging.getLogger(__name__)
CONSUMER_NAME = "owner"  # one consumer per group and partition at a time (the lock holder)
READ_COUNT = 200
SKIPPED_SAVE_SECONDS = 1.0  # how often a checkpoint moved past unhandled events is stored
_ADVANCE_SQL = (
    b"UPDATE eventstore_checkpoint SET position = %s::bigint, updated_at = now()"
    b" WHERE name = %s::text AND position < %s::bigint"
)


class AlreadyProcessed(Exception):
    """The checkpoint is already past this event: roll back, nothing to do."""


class LockLost(Exception):
    """The database session that holds the partition's lock is gone: stop consuming.

    A reconnect (e.g. after a shutdown signal broke a query) gives a new session
    without the advisory lock, so another consumer may already own the partition.
    """


def read_together(redis, consumers: list[SubscriberPartitionReader], start: str, max_reads: int) -> int:
    """Read from `start` and handle the entries, for consumers of one partition, until none finds more.

    Each read is one pipelined round trip for all of them, carrying each
    one's acknowledgement of its previous read. A consumer leaves the round
    once a read comes back empty, or once a read of new entries (`>`) comes
    back short of READ_COUNT: no entry was left then, and the relay pushes a
    wake-up with every entry it adds later (stream_runner, kick_consumers),
    so a second read would only come back empty. That read was half the
    Redis round trips of a stream runner's wake-up (docs/benchmarks.md, issue
    24); the short read's acknowledgement travels with the consumer's next
    read instead, or with `acknowledge()`. After `max_reads` reads that found
    entries, those still finding entries acknowledge and say `more`. Returns
    the number of reads that found entries.
    """
    for consumer in consumers:
        consumer.more = False
    reads = 0
    while consumers:
        pipe = redis.pipeline(transaction=False)
        counts = [consumer.queue_read(pipe, start) for consumer in consumers]
        try:
            replies = pipe.execute(raise_on_error=False)
        except REDIS_ERRORS:
            after_redis_error(redis)  # XREADGROUP's keys are asked of a cluster's default node
            raise
        found = []
        offset = 0
        any_entries = False
        for consumer, count in zip(consumers, counts, strict=True):
            entries = consumer.take_read(replies[offset : offset + count])
            offset += count
            if entries or consumer.has_unacknowledged:
                # Handled, or only trimmed entries to acknowledge.
                consumer.handle(entries)
                if start != ">":
                    # Pending entries come back with every read of "0" until acknowledged, and
                    # only entries behind the stored checkpoint are (SubscriberPartitionReader.handle).
                    consumer.save_skipped_checkpoint(now=True)
                any_entries = True
                if start != ">" or len(entries) >= READ_COUNT:
                    found.append(consumer)  # read on
                    continue
            consumer.save_skipped_checkpoint()
        consumers = found
        if any_entries:
            reads += 1
        if found and reads >= max_reads:
            for consumer in found:
                consumer.acknowledge()
                consumer.more = True
            break
    return reads


class SubscriberPartitionReader:
    """One subscriber's entries of one partition: read, handled, acknowledged, checkpointed.

    Valid while this database session holds the (subscriber, partition) lock:
    `drain_subscriber_partition` and the stream runner take it first.
    """

    def __init__(self, subscriber: Subscriber, partition: int, redis) -> None:
        self.subscriber = subscriber
        self.partition = partition
        self.redis = redis
        self.stream_key = streams.partition_key(partition)
        self.group = streams.group_name(subscriber.name)
        self.checkpoint_name = subscriber_checkpoint_name(subscriber.name, partition)
        self.checkpoint = Checkpoint.objects.get_or_create(name=self.checkpoint_name)[0].position
        self._forget_cached_state()
        self._unacknowledged: list = []  # entry ids the next read acknowledges
        # (entry id, position) past the stored checkpoint, in the order read: positions rise.
        self._held: deque[tuple[bytes, int]] = deque()
        self.handled = 0
        # The session-level lock belongs to this backend (eventstore/advisory_locks.py).
        self.backend_pid = session_pid()

    def reload_checkpoint(self) -> None:
        """Read the checkpoint again: a rebuild may have moved it while this consumer waited.

        What this consumer skipped since it last stored the checkpoint is stored
        first: read back without it, the checkpoint would lie before entries
        already read, and the next entry's `prev` would look like a gap (a
        needless backfill). A rebuild only ever moves a checkpoint forward.
        """
        self.save_skipped_checkpoint(now=True)
        self.checkpoint = Checkpoint.objects.get(name=self.checkpoint_name).position
        self._forget_cached_state()

    def _forget_cached_state(self) -> None:
        # What this consumer knows without asking, while it holds the lock: the
        # checkpoint as stored, and whether the subscriber has parked events
        # (only the lock holder parks; a retry elsewhere only resolves them, and
        # a stale "yes" merely takes the slower one-by-one path).
        self._saved_checkpoint = self.checkpoint
        self._skipped_saved_at = time.monotonic()
        self._parked: bool | None = None

    @property
    def has_unacknowledged(self) -> bool:
        return bool(self._unacknowledged)

    def holds_lock(self) -> bool:
        return still_holds(self.backend_pid)

    def _ensure_lock_held(self) -> None:
        if not self.holds_lock():
            raise LockLost(f"{self.subscriber.name} p{self.partition}: database session changed")

    def drain(self, max_reads: int = 3, *, full_check: bool = True) -> int:
        """Handle what waits, at most `max_reads` reads of entries; then `self.more` says if any are left.

        A bounded run keeps one task short: a warm shutdown finishes it soon, and
        other subscribers and partitions get their turn. `full_check=False` (a
        consumer that holds its lock between runs, woken by a new entry) reads
        only new entries: what it left pending, its checkpoint has passed (held
        until stored, `handle`), and entries Redis lost are found by the next
        entry's `prev`, or by its next full check.
        """
        self.more = False
        reads = 0
        # What the relay had sent before this run began: Redis took all of it
        # before the relay stored this checkpoint, so whatever of it the reads
        # below do not bring was lost there. (Read after the reads, it could
        # count a batch sent meanwhile as lost, though it waits in Redis.)
        relayed = self._relayed() if full_check else None
        # First what a killed consumer left unacknowledged, then new entries.
        for start in ("0", ">") if full_check else (">",):
            reads += read_together(self.redis, [self], start, max_reads - reads)
            if self.more:
                return self.handled
            self.save_skipped_checkpoint(now=full_check)
        if full_check and (self.has_unacknowledged or self._held):
            # A thorough drain may be this consumer's last read for a while (a
            # Celery task lets go of the lock next): acknowledge what it handled now.
            self.acknowledge()
        if not full_check:
            return self.handled
        # Entries the relay sent that Redis no longer has (trimmed, flushed) and
        # that no later entry's `prev` points past: read them from Postgres.
        if relayed and relayed > self.checkpoint:
            self._backfill(until=relayed + 1)
            self.save_skipped_checkpoint(now=True)
        return self.handled

    def _relayed(self) -> int | None:
        """The last position the relay stored as sent to this partition."""
        return (
            Checkpoint.objects.filter(name=relay_partition_checkpoint(self.partition))
            .values_list("position", flat=True)
            .first()
        )

    def queue_read(self, pipe, start: str) -> int:
        """Queue on `pipe` the acknowledgement of the last read, then a read; return the command count.

        Entries are acknowledged only after they were handled (their
        transaction committed): a consumer that dies in between leaves them
        pending, and the next one finds them already past its checkpoint.
        """
        if self._unacknowledged:
            pipe.xack(self.stream_key, self.group, *self._unacknowledged)
        pipe.xreadgroup(self.group, CONSUMER_NAME, {self.stream_key: start}, count=READ_COUNT)
        return 2 if self._unacknowledged else 1

    def take_read(self, replies: list) -> list:
        """The entries from the replies to what queue_read queued (errors raised, not returned)."""
        self._unacknowledged = []
        for reply in replies:
            if isinstance(reply, Exception):
                if not (isinstance(reply, ResponseError) and str(reply).startswith("NOGROUP")):
                    raise reply
                ensure_groups(self.redis, range(self.partition, self.partition + 1))
                return []
        reply = replies[-1]
        if not reply:
            return []
        # Reading "0" returns pending entries; an empty list means none are left.
        # A pending entry whose data Redis trimmed comes back without fields:
        # nothing to handle (its event, if this subscriber lacks it, is read from
        # Postgres), but it is acknowledged, or it would stay pending for good.
        entries = []
        for entry_id, fields in reply[0][1]:
            if fields:
                entries.append((entry_id, fields))
            else:
                self._unacknowledged.append(entry_id)
        return entries

    def handle(self, entries: list) -> None:
        """Handle a read's entries; they are acknowledged with the next read, or by `acknowledge()`.

        Only once the stored checkpoint has reached them: entries without a
        handler here move the checkpoint in memory, stored now and then
        (save_skipped_checkpoint). Acknowledged before that, they would be,
        after a kill, neither pending in Redis nor behind the stored
        checkpoint, and the next consumer would take the next entry's `prev`
        for entries Redis lost: a needless read of Postgres, logged as a
        warning. Held back, they are read again with the pending entries.
        """
        self._handle_entries([fields for _, fields in entries])
        self._held.extend((entry_id, int(fields[b"position"])) for entry_id, fields in entries)
        self._release_held()

    def _release_held(self) -> None:
        """Move the held entries the stored checkpoint has reached to those the next read acknowledges.

        From the front only: a subscriber without handlers for what it reads
        holds up to a second of entries (save_skipped_checkpoint), and this
        runs after every read. An entry read again (pending) may sit behind a
        later one and wait for the checkpoint to pass that one too: it is
        acknowledged a little later, never before the checkpoint reached it.
        """
        held, saved = self._held, self._saved_checkpoint
        while held and held[0][1] <= saved:
            self._unacknowledged.append(held.popleft()[0])

    def acknowledge(self) -> None:
        """Store a skipped checkpoint, then acknowledge what was read (no read follows).

        Stored now, not when due: the next run may be another consumer that
        starts from the stored checkpoint, and would take the entries it did
        not see for a gap.
        """
        self.save_skipped_checkpoint(now=True)
        if self._unacknowledged:
            self.redis.xack(self.stream_key, self.group, *self._unacknowledged)
            self._unacknowledged = []

    def _handle_entries(self, entries: list[dict]) -> None:
        """Process one read of stream entries, in order, as few transactions as possible.

        Entries of types this subscriber has no handler for are not even
        decoded (the relay writes each entry's type beside it); they only move
        the checkpoint, with the next group or at the end of the read.
        """
        group: list[RecordedEvent] = []
        skipped = 0  # the last unhandled entry's position, if after the group
        for fields in entries:
            position = int(fields[b"position"])
            last = max(group[-1].position if group else self.checkpoint, skipped)
            if position <= last:
                continue  # sent again by the relay; handled before
            if int(fields[b"prev"]) > last:
                self._process_group(group, skipped)
                group, skipped = [], 0
                self._backfill(until=position)
            type_name = fields.get(b"type")
            if type_name is not None and self.subscriber.handler_for(type_name.decode()) is None:
                skipped = position
                continue
            group.append(streams.decode(fields[b"event"]))
        self._process_group(group, skipped)

    def _process_group(self, stored: list[RecordedEvent], skipped: int = 0) -> None:
        """Handle consecutive events in one transaction; one by one if anything goes wrong.

        The relay sends events as stored; they are opened and upcast here, so a
        key forgotten since the relay ran is honoured. One transaction per group
        pays the commit once instead of once per event; the checkpoint moves in
        it, so the group's effects still happen exactly once. `skipped` is the
        position of an unhandled event after the group: the checkpoint moves
        there once the group is done.
        """
        self._handle_group(stored)
        if skipped > self.checkpoint:
            self.checkpoint = skipped

    def _handle_group(self, stored: list[RecordedEvent]) -> None:
        if not stored:
            return
        events = self._reveal(stored) if self.subscriber.reads_data else stored
        handled = [
            (event, handler) for event in events if (handler := self.subscriber.handler_for(event.type))
        ]
        if not handled:
            self.checkpoint = events[-1].position
            return
        if len(handled) > 1 and not self._has_parked():
            self._ensure_lock_held()
            try:
                with transaction.atomic():
                    if self.subscriber.batch_handler is not None:
                        # One set-based statement for the group (e.g. the event counts).
                        group = [event for event, _ in handled]
                        with tracing.handling_group(self.subscriber.name, group):
                            self.subscriber.batch_handler(group)
                    else:
                        for event, handler in handled:
                            with (
                                caused_by(event.id, event.correlation_id),
                                tracing.handling(self.subscriber.name, event),
                            ):
                                handler(event)
                    # Last: see _process.
                    self._advance_checkpoint(
                        events[-1].position,
                        unless_past=handled[0][0].position,
                        handled=[event for event, _ in handled],
                    )
            except Exception as exc:
                if connection.connection is None or not connection.is_usable():
                    raise LockLost(f"database session broken: {exc!r}") from exc
                logger.info(
                    "%s: a group of %d failed (%r); one by one", self.subscriber.name, len(handled), exc
                )
            else:
                self.handled += len(handled)
                self.checkpoint = self._saved_checkpoint = events[-1].position
                return
        for event in events:
            self._process(event)

    @staticmethod
    def _reveal(stored: list[RecordedEvent]) -> list[RecordedEvent]:
        """Open and upcast the events; the keys of the group are loaded in one query."""
        keyring = privacy.KeyRing()
        keyring.load(
            s
            for e in stored
            if privacy.holds_sealed(e.data) or privacy.holds_sealed(e.metadata)  # most hold none
            for s in (*privacy.sealed_subjects(e.data), *privacy.sealed_subjects(e.metadata))
        )
        return [reveal_event(event, keyring) for event in stored]

    def _has_parked(self) -> bool:
        if self._parked is None:
            self._parked = ParkedEvent.objects.filter(
                subscriber=self.subscriber.name, resolved_at__isnull=True
            ).exists()
        return self._parked

    def _backfill(self, *, until: int) -> None:
        """Read the events of this partition that Redis lost, straight from the log."""
        logger.warning(
            "%s p%s: entries missing before %s, reading them from Postgres",
            self.subscriber.name,
            self.partition,
            until,
        )
        read = 0
        try:
            after = self.checkpoint
            while True:
                batch = read_all(after=after, limit=1000)
                for event in batch:
                    if event.position >= until:
                        return
                    if streams.partition_of(event.stream_id) == self.partition:
                        read += 1
                        self._process(event)
                if not batch:
                    return
                after = batch[-1].position
        finally:
            record_backfill(self.redis, self.subscriber.name, read)

    def _process(self, event: RecordedEvent) -> None:
        handler = self.subscriber.handler_for(event.type)
        if handler is None:
            self.checkpoint = event.position  # saved with the next handled event or batch end
            return
        if self._blocked_by_parked(event) and self._park(
            event, f"waiting: an earlier event of {event.stream_id} is parked", attempts=0, behind=True
        ):
            return
        for attempt in range(1, settings.SUBSCRIBER_MAX_ATTEMPTS + 1):
            self._ensure_lock_held()
            try:
                with transaction.atomic():
                    with (
                        caused_by(event.id, event.correlation_id),
                        tracing.handling(self.subscriber.name, event),
                    ):
                        handler(event)
                    # Last, not first: the checkpoint's write gives the transaction an id,
                    # and from then on it holds the horizon back for every follower. A
                    # handler that works long before it writes (a link scan) holds nothing
                    # meanwhile. A consumer that finds the checkpoint past the event rolls
                    # the handler's effects back (AlreadyProcessed), so they happen once.
                    self._advance_checkpoint(event.position, handled=[event])
                self.handled += 1
                self.checkpoint = self._saved_checkpoint = event.position
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

    def _advance_checkpoint(
        self, position: int, *, unless_past: int | None = None, handled: list[RecordedEvent] | None = None
    ) -> None:
        """Move the checkpoint to `position` if it is still before `unless_past` (default: it).

        With `handled`, the same statement adds those events to the delivery ledger.
        """
        unless_past = unless_past or position
        if handled is not None:
            moved = delivery_ledger.advance_and_record(self.checkpoint_name, position, unless_past, handled)
        else:
            moved = prepared.execute(_ADVANCE_SQL, [position, self.checkpoint_name, unless_past])
        if not moved:
            raise AlreadyProcessed

    def _blocked_by_parked(self, event: RecordedEvent) -> bool:
        return self._has_parked() and self._stream_parked(event.stream_id)

    def _stream_parked(self, stream_id: str) -> bool:
        return ParkedEvent.objects.filter(
            subscriber=self.subscriber.name, stream_id=stream_id, resolved_at__isnull=True
        ).exists()

    def _park(self, event: RecordedEvent, error: str, *, attempts: int, behind: bool = False) -> bool:
        """Park the event; `behind` an earlier parked event of its stream only if that one still is.

        Returns False when the earlier one was retried meanwhile: the event is
        then handled as usual. The stream's parking lock (held by a retry while
        it runs) makes the look and the parking one step.
        """
        self._ensure_lock_held()
        with transaction.atomic():
            if behind:
                lock_parked_stream(self.subscriber.name, event.stream_id)
                if not self._stream_parked(event.stream_id):
                    return False
            try:
                self._advance_checkpoint(event.position)
            except AlreadyProcessed:
                return True
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
        self.checkpoint = self._saved_checkpoint = event.position
        self._parked = True
        logger.error("%s parked event %s (%s): %s", self.subscriber.name, event.id, event.type, error)
        return True

    def save_skipped_checkpoint(self, *, now: bool = False) -> None:
        """Store a checkpoint moved past events without a handler (nothing else saved it).

        Only now and then (`now` at the end of a full check): until then a
        restart merely reads those events again, and they have no handler here.
        A write per wake-up for every subscriber would cost each wake-up a
        round trip and a transaction, for nothing a reader needs at once.
        """
        if self.checkpoint > self._saved_checkpoint:
            moment = time.monotonic()
            if not now and moment - self._skipped_saved_at < SKIPPED_SAVE_SECONDS:
                return
            prepared.execute(_ADVANCE_SQL, [self.checkpoint, self.checkpoint_name, self.checkpoint])
            self._saved_checkpoint = self.checkpoint
            self._skipped_saved_at = moment
        self._release_held()
