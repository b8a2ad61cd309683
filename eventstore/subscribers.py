"""Subscribers: named handler sets of one app that react to events after commit.

Each subscriber reads the relayed log as its own Redis consumer group and runs
its handlers at least once per event, in stream order. The machinery (see
eventstore.consumer) runs each handler in a transaction with the event as its
causation context and records the event as processed in that same
transaction, so a redelivered event has no second effect. Handlers may publish
events; those carry the input event's correlation id and point at it as cause.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .envelope import RecordedEvent
from .errors import UnknownEventType
from .registry import EventType, get_event_type

EVERY_TYPE = "*"  # a handler under this key receives every event
SubscriberHandler = Callable[[RecordedEvent], None]
BatchSubscriberHandler = Callable[[Sequence[RecordedEvent]], None]


@dataclass(frozen=True)
class Subscriber:
    """`handlers` maps event types (or their names) to functions; other types are skipped.

    `batch_handler`, if given, applies several events at once (those with a
    handler, in order) with the same result as the handlers one by one; the
    consumer uses it for a group of consecutive events and falls back to the
    handlers event by event. It runs without a single cause, so it must not
    publish: async projections use it (their rebuild's `batch_apply`).
    `reads_data=False` says the handlers read only the envelope (type, source,
    times), never data or metadata: the consumer then neither opens sealed
    values nor upcasts for them.
    """

    name: str
    handlers: Mapping[str, SubscriberHandler]
    description: str = ""
    batch_handler: BatchSubscriberHandler | None = None
    reads_data: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "handlers", handler_table(self.handlers, f"subscriber {self.name!r}"))

    @property
    def event_types(self) -> list[str]:
        return sorted(self.handlers)

    def handler_for(self, event_type: str) -> SubscriberHandler | None:
        return self.handlers.get(event_type) or self.handlers.get(EVERY_TYPE)


def handler_table(handlers: Mapping[EventType | str, Callable], owner: str) -> dict[str, Callable]:
    """`handlers` keyed by type name, checked now: a type nobody defined fails at start, not silently later."""
    table = {}
    for key, handler in handlers.items():
        if isinstance(key, EventType):
            name = key.name
        elif key == EVERY_TYPE:
            name = key
        else:
            try:
                name = get_event_type(key).name
            except UnknownEventType:
                raise UnknownEventType(
                    f"{owner} handles {key!r}, which is not a defined event type"
                ) from None
        table[name] = handler
    return table


_subscribers: dict[str, Subscriber] = {}


def register_subscriber(subscriber: Subscriber) -> Subscriber:
    existing = _subscribers.get(subscriber.name)
    if existing is not None and existing is not subscriber:
        raise ValueError(f"subscriber {subscriber.name!r} is registered twice")
    _subscribers[subscriber.name] = subscriber
    return subscriber


def get_subscriber(name: str) -> Subscriber:
    return _subscribers[name]


def registered_subscribers() -> dict[str, Subscriber]:
    return dict(_subscribers)
