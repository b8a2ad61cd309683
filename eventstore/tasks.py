"""Celery entry points of the event store: relay, consumers, and the safety sweep."""

from __future__ import annotations

import logging

from celery import shared_task

from . import delivery_ledger, partitions, streams
from .consumer import drain_subscriber_partition
from .errors import DeliveryCheckOvertaken
from .outage import skipped_during_outages
from .redis import get_redis
from .relay import relay_pending
from .stream_runner import push_wake, runner_alive
from .subscribers import registered_subscribers
from .wakeups import DIRTY_TTL_SECONDS, relay_dirty_key

logger = logging.getLogger(__name__)


@shared_task(name="eventstore.tasks.relay_events", ignore_result=True)
@skipped_during_outages("relay task")  # a commit's wake-up while no runner is alive; the sweep relays anyway
def relay_events(max_rounds: int = 20) -> int:
    """A commit's wake-up of the relay, sent to the workers while no stream runner is alive."""
    return relay_and_kick(max_rounds)


def relay_and_kick(max_rounds: int = 20) -> int:
    """Relay until caught up, then wake the consumers of the partitions that got events."""
    redis = get_redis()
    sent = 0
    for _ in range(max_rounds):
        redis.delete(relay_dirty_key())
        count, partitions, _held_back = relay_pending()  # the sweep comes back anyway
        sent += count
        for partition in partitions:
            kick_consumers(partition)
        if not redis.exists(relay_dirty_key()):
            break
    return sent


@shared_task(name="eventstore.tasks.consume_partition", ignore_result=True, acks_late=True)
@skipped_during_outages("consumer task")  # the sweep kicks every partition again in 2 s
def consume_partition(partition: int) -> int:
    """Run every subscriber over one partition (each under its own lock), in turn.

    One task per partition rather than per (subscriber, partition): the task
    overhead is paid once for all subscribers, and partitions still spread
    over the workers.
    """
    return sum(
        drain_subscriber_partition(name, partition, hand_off=True)
        for name in sorted(registered_subscribers())
    )


@shared_task(name="eventstore.tasks.ensure_partitions", ignore_result=True)
@skipped_during_outages("ensure_partitions")
def ensure_partitions() -> None:
    """Beat's minute job: the log's partitions stay ahead of the positions being taken."""
    partitions.ensure_ahead()


@shared_task(name="eventstore.tasks.sweep", ignore_result=True)
@skipped_during_outages("sweep")  # every 2 s: one line per outage, not a traceback per run
def sweep() -> None:
    """Beat's safety net: relay what waits and wake every consumer, whatever kicks were lost."""
    relay_and_kick()
    for partition in range(streams.partition_count()):
        kick_consumers(partition, force=True)


@shared_task(name="eventstore.tasks.verify_delivery", ignore_result=True)
@skipped_during_outages("delivery check")  # the next interval checks again; an outage is no finding
def verify_delivery() -> int:
    """Beat's delivery check (DELIVERY_CHECK_INTERVAL_SECONDS): an error line per subscriber not proven."""
    failed = 0
    try:
        reports = delivery_ledger.verify()
    except DeliveryCheckOvertaken as exc:  # archiving ran meanwhile: no finding, the next interval checks
        logger.warning("delivery check: %s", exc)
        return 0
    for report in reports:
        if not report.ok:
            failed += 1
            logger.error(
                "delivery check: %s missed %d and doubled %d events up to %d: %s",
                report.subscriber,
                report.missed,
                report.doubled,
                report.verified_up_to,
                [finding.as_dict() for finding in report.findings[:5]],
            )
    return failed


def kick_consumers(partition: int, *, force: bool = False) -> None:
    """Mark every subscriber of the partition dirty; send a task unless one is due anyway.

    A subscriber that was dirty already has a task queued or running that will
    see the mark (drain_subscriber_partition() clears it before draining and checks it after).
    While a stream runner is alive, its partition loop is woken instead.
    """
    redis = get_redis()
    if runner_alive(redis, partition):
        pipe = redis.pipeline(transaction=False)
        push_wake(pipe, streams.partition_wake_key(partition))
        pipe.execute()
        return
    pipe = redis.pipeline(transaction=False)
    for name in registered_subscribers():
        pipe.set(streams.dirty_key(name, partition), 1, nx=True, ex=DIRTY_TTL_SECONDS)
    if any(pipe.execute()) or force:
        consume_partition.apply_async((partition,), retry=False)


@shared_task(name="eventstore.tasks.verify_projections", ignore_result=True)
@skipped_during_outages("projection audit")  # likewise: the next interval audits again
def verify_projections() -> int:
    """The periodic consistency audit (PROJECTION_AUDIT_INTERVAL_SECONDS); returns the drifted tables.

    Over the archive (EVENTSTORE_ARCHIVE_DIR) and the live log once the log was
    archived; without that directory it audits nothing and says why (the
    audit's age on /metrics keeps growing), rather than report the archived
    events' effects as drift.
    """
    from .archive import source as archive_source
    from .errors import ArchiveInvalid
    from .projection_audit import audit_projections

    try:
        with archive_source.whole_log(None):
            return len(audit_projections()["drifted"])
    except ArchiveInvalid as exc:
        logger.error("projection audit skipped: %s", exc)
        return -1
