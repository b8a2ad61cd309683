"""Parked events (dead letters): retrying them, from the admin or a command."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from . import delivery_ledger, streams, tracing
from .context import caused_by
from .models import ParkedEvent
from .reading import read_events_by_id
from .relay import subscriber_checkpoint_name
from .subscribers import get_subscriber

logger = logging.getLogger(__name__)


def parked_event_retry(*, parked_id: int) -> bool:
    """Run the subscriber's handler again for a parked event and the ones parked behind it.

    The stream's parked events are retried in position order and the first
    failure stops the run (keeping stream order). Returns True when the given
    event went through. The handler's effects and the resolution commit together.
    """
    first = ParkedEvent.objects.get(pk=parked_id)
    queue = ParkedEvent.objects.filter(
        subscriber=first.subscriber, stream_id=first.stream_id, resolved_at__isnull=True
    ).order_by("position")
    succeeded = False
    for parked in queue:
        if not _retry_one(parked.pk):
            break
        succeeded = succeeded or parked.pk == first.pk
    return succeeded


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
