"""Proof that no event was skipped: what each subscriber handled, and a check against the log.

Recording. In the transaction that runs a subscriber's handlers and moves its
checkpoint, `record()` adds the handled events to the subscriber partition's
ledger: per bucket of positions (2**BUCKET_BITS of them), how many events were
handled and the XOR of their ids' 64-bit digests. A rolled-back handler
leaves no trace; an event handled twice adds twice. A few rows per subscriber
partition per hour of traffic, never a row per event.

Checking. `verify()` reads the ledgers, checkpoints and parked events in one
repeatable-read snapshot and computes the same figures from the log: for
each subscriber partition, every event of the subscriber's types between the
ledger's start (`Checkpoint.ledger_from`) and its checkpoint, less the events
parked and not yet retried. A bucket whose
figures differ is a finding. When it is one event short (or one over), the
XOR of the two digests is that event's digest, so the check names it;
otherwise it names the bucket's positions and the count.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from . import partitions, prepared, streams
from .errors import DeliveryCheckOvertaken
from .models import Checkpoint, DeliveryCheck, DeliveryLedger, ParkedEvent
from .relay import subscriber_checkpoint_name
from .subscribers import Subscriber, registered_subscribers

BUCKET_BITS = 32  # 4096 transaction ids of positions per row (positions are base + (xid << 20) + n)
MAX_FINDINGS = 20  # kept per subscriber in DeliveryCheck; the counts are always complete

_RECORD_SQL = b"""
INSERT INTO eventstore_deliveryledger AS l (checkpoint, bucket, handled, digest)
SELECT %s::text, b, c, d FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS t(b, c, d)
ON CONFLICT (checkpoint, bucket)
DO UPDATE SET handled = l.handled + excluded.handled, digest = l.digest # excluded.digest
"""


def event_digest(event_id: uuid.UUID) -> int:
    """A 64-bit digest of an event id, signed to fit a bigint (ids given by callers need not be random)."""
    return int.from_bytes(hashlib.blake2b(event_id.bytes, digest_size=8).digest(), "big", signed=True)


def bucket_of(position: int) -> int:
    return position >> BUCKET_BITS


def record(checkpoint_name: str, events: Iterable) -> None:
    """Add handled `events` to the ledger of `checkpoint_name`, in the caller's transaction."""
    buckets, counts, digests = _sums(events)
    if buckets:
        prepared.execute(_RECORD_SQL, [checkpoint_name, buckets, counts, digests])


# The consumer's last statement in a handler's transaction: move the subscriber's checkpoint
# (only if it is still behind the events) and, only if it moved, add the events to the ledger.
# One round trip where the two statements took two: a consumer of the stream runner commits
# about one such transaction per partition and wake-up (docs/benchmarks.md, issue 24).
_ADVANCE_AND_RECORD_SQL = b"""
WITH moved AS (
    UPDATE eventstore_checkpoint SET position = %s::bigint, updated_at = now()
    WHERE name = %s::text AND position < %s::bigint
    RETURNING name
), recorded AS (
    INSERT INTO eventstore_deliveryledger AS l (checkpoint, bucket, handled, digest)
    SELECT moved.name, b, c, d FROM moved, unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS t(b, c, d)
    ON CONFLICT (checkpoint, bucket)
    DO UPDATE SET handled = l.handled + excluded.handled, digest = l.digest # excluded.digest
)
SELECT count(*) FROM moved
"""


def _sums(events: Iterable) -> tuple[list[int], list[int], list[int]]:
    """Per bucket of positions: the events' count and the XOR of their ids' digests."""
    sums: dict[int, list[int]] = {}
    for event in events:
        entry = sums.setdefault(bucket_of(event.position), [0, 0])
        entry[0] += 1
        entry[1] ^= event_digest(event.id)
    buckets = list(sums)
    return buckets, [sums[b][0] for b in buckets], [sums[b][1] for b in buckets]


def advance_and_record(checkpoint_name: str, position: int, unless_past: int, events: Iterable) -> bool:
    """Move the checkpoint to `position` if it is before `unless_past`, and then record `events`.

    Returns False, recording nothing, when the checkpoint was already there
    (the events were handled before: the caller rolls its transaction back).
    """
    buckets, counts, digests = _sums(events)
    (moved,) = prepared.fetchone(
        _ADVANCE_AND_RECORD_SQL, [position, checkpoint_name, unless_past, buckets, counts, digests]
    )
    return bool(moved)


def restart(checkpoint_names: list[str]) -> None:
    """A rebuild applied everything up to the checkpoints: the ledgers cover what comes after them."""
    DeliveryLedger.objects.filter(checkpoint__in=checkpoint_names).delete()
    Checkpoint.objects.filter(name__in=checkpoint_names).update(ledger_from=F("position"))


@dataclass
class Finding:
    kind: str  # "missed", "doubled", or "miscounted" (several in one bucket)
    partition: int
    event_id: str | None = None
    position: int | None = None
    from_position: int | None = None
    to_position: int | None = None
    difference: int = 0

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class SubscriberReport:
    subscriber: str
    verified_up_to: int = 0  # the lowest checkpoint of its partitions
    checked_events: int = 0
    missed: int = 0
    doubled: int = 0
    parked: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missed and not self.doubled


def verify(subscriber_names: Iterable[str] | None = None, *, save: bool = True) -> list[SubscriberReport]:
    """Check each subscriber's ledger against the log; store the results unless `save` is False.

    The checkpoints, ledgers and parked events are read in one snapshot; the
    log afterwards, in statements of their own, each bounded by a window of
    partitions (`_events_of`). That is sound because every event at or below a
    checkpoint was below the horizon when the checkpoint passed it: no
    transaction can add one there since. One snapshot over the log would hold
    a lock on every partition it read until it ended (and the lock table is
    the server's, shared, fixed in size). Archiving is the one thing that
    removes events; a check the archive overtook raises DeliveryCheckOvertaken.
    """
    subscribers = registered_subscribers()
    names = sorted(subscribers) if subscriber_names is None else list(subscriber_names)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        live_from = partitions.archived_before()
        states = [_ledger_state(subscribers[name], _first_whole_live_bucket(live_from)) for name in names]
    reports = [_check(state) for state in states]
    if partitions.archived_before() != live_from:
        raise DeliveryCheckOvertaken(
            "partitions of the log were archived while the delivery check read it: run it again"
        )
    if save:
        _save(reports)
    return reports


@dataclass
class _LedgerState:
    """What a subscriber's ledger says, read in the check's snapshot."""

    subscriber: Subscriber
    names: dict[str, int]  # checkpoint name -> stream partition
    spans: dict[int, tuple[int, int]]  # stream partition -> (ledger_from, checkpoint)
    recorded: dict[tuple[int, int], tuple[int, int]]  # (stream partition, bucket) -> (handled, digest)
    parked: set


def _ledger_state(subscriber: Subscriber, first_bucket: int) -> _LedgerState:
    stream_partitions = range(streams.partition_count())
    names = {subscriber_checkpoint_name(subscriber.name, p): p for p in stream_partitions}
    spans = {p: (0, 0) for p in stream_partitions}  # partition -> (ledger_from, checkpoint)
    for name, position, ledger_from in Checkpoint.objects.filter(name__in=names).values_list(
        "name", "position", "ledger_from"
    ):
        spans[names[name]] = (ledger_from, position)
    if first_bucket:
        # The archived events are no longer in the log: only buckets wholly in the live log are checked.
        below = (first_bucket << BUCKET_BITS) - 1
        spans = {p: (max(ledger_from, below), checkpoint) for p, (ledger_from, checkpoint) in spans.items()}
    recorded = {
        (names[name], bucket): (handled, digest)
        for name, bucket, handled, digest in DeliveryLedger.objects.filter(
            checkpoint__in=names, bucket__gte=first_bucket
        ).values_list("checkpoint", "bucket", "handled", "digest")
    }
    parked = set(
        ParkedEvent.objects.filter(subscriber=subscriber.name, resolved_at__isnull=True).values_list(
            "event_id", flat=True
        )
    )
    return _LedgerState(subscriber, names, spans, recorded, parked)


def _check(state: _LedgerState) -> SubscriberReport:
    subscriber, spans = state.subscriber, state.spans
    report = SubscriberReport(subscriber.name)
    report.verified_up_to = min(position for _, position in spans.values())
    expected: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    for position, event_id, stream_id in _events_of(subscriber, spans):
        partition = streams.partition_of(stream_id)
        ledger_from, checkpoint = spans[partition]
        if not ledger_from < position <= checkpoint:
            continue
        if event_id in state.parked:
            report.parked += 1
            continue
        entry = expected[(partition, bucket_of(position))]
        entry[0] += 1
        entry[1] ^= event_digest(event_id)
        report.checked_events += 1
    recorded = state.recorded
    for key in sorted(set(expected) | set(recorded)):
        want_count, want_digest = expected.get(key, (0, 0))
        got_count, got_digest = recorded.get(key, (0, 0))
        if (want_count, want_digest) != (got_count, got_digest):
            _explain(report, subscriber, key, got_count - want_count, want_digest ^ got_digest, spans)
    return report


def _first_whole_live_bucket(start: int | None) -> int:
    """The first bucket no archived event falls in (0 while the log holds every event).

    `start`: the live log's first position (None while it holds every event).
    """
    if start is None:
        return 0
    return bucket_of(start) if bucket_of(start) != bucket_of(start - 1) else bucket_of(start) + 1


_EVENTS_BATCH = 10_000


def _events_of(subscriber: Subscriber, spans: dict[int, tuple[int, int]]):
    """(position, id, stream id) of the subscriber's events in the covered range, in batches.

    Each statement is bounded by a window of whole partitions as literals
    (partitions.position_windows), so it plans over those partitions only,
    and runs in a transaction of its own when the caller has none.
    """
    low = min(ledger_from for ledger_from, _ in spans.values())
    high = max(checkpoint for _, checkpoint in spans.values())
    types = None if "*" in subscriber.handlers else subscriber.event_types
    for after, through in partitions.position_windows(low, high):
        while True:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT position, id, stream_id FROM eventstore_event"
                    " WHERE position > %s AND position <= %s AND (%s::text[] IS NULL OR type = ANY(%s::text[]))"
                    " ORDER BY position LIMIT %s",
                    [after, through, types, types, _EVENTS_BATCH],
                )
                rows = cursor.fetchall()
            yield from rows
            if len(rows) < _EVENTS_BATCH:
                break
            after = rows[-1][0]


def _explain(report, subscriber, key, difference: int, digest: int, spans) -> None:
    partition, bucket = key
    if difference < 0:
        report.missed += -difference
    elif difference > 0:
        report.doubled += difference
    else:  # as many handled as expected, but not the same events: one missed, one extra
        report.missed += 1
        report.doubled += 1
    if len(report.findings) >= MAX_FINDINGS:
        return
    low, high = bucket << BUCKET_BITS, ((bucket + 1) << BUCKET_BITS) - 1
    if abs(difference) == 1:
        named = _event_with_digest(subscriber, partition, low, high, digest, spans)
        if named is not None:
            report.findings.append(
                Finding(
                    "missed" if difference < 0 else "doubled",
                    partition,
                    event_id=str(named[1]),
                    position=named[0],
                )
            )
            return
    report.findings.append(
        Finding("miscounted", partition, from_position=low, to_position=high, difference=difference)
    )


def _event_with_digest(subscriber, partition, low, high, digest, spans):
    ledger_from, checkpoint = spans[partition]
    bounded = {partition: (max(ledger_from, low - 1), min(checkpoint, high))}
    for position, event_id, stream_id in _events_of(subscriber, bounded):
        if streams.partition_of(stream_id) == partition and event_digest(event_id) == digest:
            return position, event_id
    return None


def _save(reports: list[SubscriberReport]) -> None:
    now = timezone.now()
    for report in reports:
        DeliveryCheck.objects.update_or_create(
            subscriber=report.subscriber,
            defaults={
                "checked_at": now,
                "verified_up_to": report.verified_up_to,
                "checked_events": report.checked_events,
                "missed": report.missed,
                "doubled": report.doubled,
                "parked": report.parked,
                "findings": [finding.as_dict() for finding in report.findings],
            },
        )
