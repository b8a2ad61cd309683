"""The errors the event store raises: few, specific, and named for what happened."""


class EventStoreError(Exception):
    """Base class for event store errors."""


class ConcurrencyConflict(EventStoreError):
    """The stream moved on since the writer read it: its expected version is stale.

    Of two appends that expect the same version, exactly one wins; the other
    gets this error and nothing of its transaction's events is stored.
    """

    def __init__(self, stream_id: str, expected_version: object, actual_version: int | None = None):
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        super().__init__(
            f"stream {stream_id!r}: expected version {expected_version}, "
            f"found {actual_version if actual_version is not None else 'a newer one'}"
        )


class StreamOrderConflict(ConcurrencyConflict):
    """A later transaction extended the stream first; rerun the command in a new transaction.

    Positions follow transaction ids (see docs/eventstore.md). Refusing this
    append keeps every stream's versions in position order, which is what lets
    followers deliver each stream in order by reading the log in position order.
    `positions_behind`: the head is ahead because this cluster's transaction ids
    are behind its log (it came from another cluster); a rerun then first
    catches the stored position base up (eventstore.positions).
    """

    positions_behind = False


class UnknownEventType(EventStoreError):
    """An event type name that no app registered."""


class InvalidEventData(EventStoreError):
    """Event data that does not fit its type's schema: a bug in the publishing code."""


class NotInTransaction(EventStoreError):
    """publish() was called outside transaction.atomic(), so state and events could split."""


class GapSafetyUnavailable(EventStoreError):
    """Following the log here could skip events: not the primary, or not READ COMMITTED.

    The horizon is computed from the primary's running transactions and is
    only safe for statements whose snapshot is taken after it (READ COMMITTED).
    On a standby or in a REPEATABLE READ / SERIALIZABLE transaction, a follower
    refuses to run rather than skip an event for good.
    """


class EventIdConflict(EventStoreError):
    """An event id that is already stored with other content (another stream, type or data).

    Appending a stored id again is a no-op only when it is the same event
    (guarantee 4); anything else is a bug or a clash of ids, never a success
    and not a version conflict (retrying cannot help).
    """

    def __init__(self, event_id: object, reason: str):
        self.event_id = event_id
        self.reason = reason
        super().__init__(f"event {event_id}: {reason}")


class TransactionEventLimit(EventStoreError):
    """One transaction appended more events than fit its range of positions.

    Positions are `base + (xid << 20) + n`, so n stops at 1,048,575; a
    transaction that needs more must be split. Retrying the same work cannot help.
    """

    def __init__(self, already: int, more: int, limit: int):
        self.already, self.more, self.limit = already, more, limit
        super().__init__(
            f"this transaction holds {already} events; {more} more exceed the limit of {limit} per transaction"
        )


class KeyUnwrapError(EventStoreError):
    """No configured master key opens this wrapped data key."""


class ShadowInUse(RuntimeError):
    """Another rebuild is using the shadow schema (its advisory lock is taken)."""


class SwapWouldLose(RuntimeError):
    """A live projection table has what a swapped-in copy would not carry (a trigger, a policy, a
    view over it, ...: eventstore.shadow); refused before the build and again in the swap."""


class RoleSetupError(EventStoreError):
    """The application role cannot be made least-privileged as asked (it would own or be the owner)."""


class ArchiveInvalid(EventStoreError):
    """An archive file or manifest does not hold what it claims (changed, truncated, or out of order)."""


class ArchiveRefused(EventStoreError):
    """Nothing more may be archived as asked (the reason says which partition and why)."""


class LogConversionRefused(EventStoreError):
    """The online preparation for migration 0011 cannot run as asked (the reason says why)."""


class DeliveryCheckOvertaken(EventStoreError):
    """Partitions of the log were archived while verify_delivery read it: its counts would be short."""
