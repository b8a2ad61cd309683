"""After a commit that recorded events: wake the relay, then send `events_committed`.

`events_committed` is the event store's one signal, the extension point for
code outside it that wants to hear of new events once they are durable
(argument `events`: the RecordedEvents of the transaction, in position order).
It is sent once per committed transaction, after the relay's wake-up, with
`send_robust`: the transaction is committed already, so a failing receiver is
logged by Django and changes nothing. It is a notification, not a delivery
guarantee (a process that dies right after the commit sends nothing):
subscribers (eventstore.subscribers) are the way to act on every event.

The event store's own after-commit step, waking the relay, is a plain call
(`wakeups.relay_waker.after_commit`), not a receiver of this signal.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper
from django.dispatch import Signal

from .envelope import RecordedEvent
from .wakeups import relay_waker

events_committed = Signal()


def announce_after_commit(db: BaseDatabaseWrapper, recorded: list[RecordedEvent]) -> None:
    """Once this transaction commits: wake the relay, then send `events_committed` (once per transaction).

    The wake-up only tells the relay to read now; followers always read the
    log itself. `db` is the wrapper itself, not the `connection` proxy, whose
    every attribute access looks the wrapper up again.
    """
    pending = getattr(db, "_eventstore_pending", None)
    # A rollback discards on_commit callbacks without telling us, so the batch is
    # reused only while its callback is surely still queued: Django gives the
    # connection a new list of callbacks at every commit and rollback (of a
    # savepoint too), so the list it was queued in must still be the current one.
    # After a savepoint's rollback that kept it, a second announcement is queued
    # beside it, which is harmless.
    if pending is None or pending.queued_in is not db.run_on_commit:
        pending = _CommittedEvents()
        db._eventstore_pending = pending
        db.on_commit(pending.announce)
        pending.queued_in = db.run_on_commit
    pending.events.extend(recorded)


class _CommittedEvents:
    """The events one transaction recorded, announced once it commits."""

    __slots__ = ("events", "queued_in")

    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []
        self.queued_in: list | None = None

    def announce(self) -> None:
        relay_waker.after_commit()  # never raises: the periodic sweep relays if the wake-up fails
        events_committed.send_robust(sender=None, events=self.events)
