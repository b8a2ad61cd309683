"""Parked events (dead letters): retrying them, from the admin or a command."""

from __future__ import annotations

import logging
import zlib

from django.db import connection, transaction
from django.utils import timezone

from . import delivery_ledger, streams, tracing
from .context import caused_by
from .models import ParkedEvent
from .reading import read_events_by_id
from .relay import subscriber_checkpoint_name
from .subscribers import get_subscriber

logger = logging.getLogger(__name__)


def lock_parked_stream(subscriber: str, stream_id: str) -> None:
    """Take the lock of one subscriber's parked events of one stream, until the transaction ends.

    A retry holds it while it works through the stream's parked events; the
    consumer holds it while it decides to park an event behind an earlier
    parked one. Without it, the consumer could see the earlier event still
    parked, the retry resolve it and finish, and the consumer then park the
    later event behind nothing: it would wait for a retry no one starts.
    """
    key = zlib.crc32(f"parked:{subscriber}:{stream_id}".encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def parked_event_retry(*, parked_id: int) -> bool:
    """Run the subscriber's handler again for a parked event and the ones parked behind it.

    The stream's parked events are retried in position order and the first
    failure stops the run (keeping stream order). Returns True when the given
    event went through (or was resolved already). Each handler's effects and
    its event's resolution commit together, when the run ends.
    """
    first = ParkedEvent.objects.get(pk=parked_id)
    with transaction.atomic():
        lock_parked_stream(first.subscriber, first.stream_id)
        # Read under the lock: every event the consumer parked behind these is here.
        queue = ParkedEvent.objects.filter(
            subscriber=first.subscriber, stream_id=first.stream_id, resolved_at__isnull=True
        ).order_by("position")
        for parked in list(queue):
            if not _retry_one(parked.pk):
                break
    return ParkedEvent.objects.filter(pk=parked_id, resolved_at__isnull=False).exists()


def _retry_one(parked_id: int) -> bool:
    try:
        with transaction.atomic():
            parked = ParkedEvent.objects.select_for_update().get(pk=parked_id)
            if parked.resolved_at is not None:
                return True
            (event,) = read_events_by_id([parked.event_id])
            handler = get_subscriber(parked.subscriber).handler_for(event.type)
            with caused_by(event.id, event.correlation_id), tracing.handling(parked.subscriber, event):
                handler(event)
            delivery_ledger.record(
                subscriber_checkpoint_name(parked.subscriber, streams.partition_of(event.stream_id)), (event,)
            )
            parked.resolved_at = timezone.now()
            parked.save(update_fields=["resolved_at"])
        return True
    except Exception as exc:
        logger.warning("retry of parked event %s failed: %r", parked_id, exc)
        ParkedEvent.objects.filter(pk=parked_id).update(
            error=f"{type(exc).__name__}: {exc}"[:4000],
            attempts=ParkedEvent.objects.get(pk=parked_id).attempts + 1,
        )
        return False
