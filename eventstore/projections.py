"""Read models fed by events: a name, a handler table, the tables they own, a rebuild.

An inline projection runs in the writer's transaction (the `event_recorded`
signal), so its tables are current the moment the command commits. An async
projection is fed by the subscriber machinery after commit. Either kind can be
rebuilt from the log alone by `replay_events`, because every handler is a pure
function of the events it is given (plus the rows earlier events produced).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from django.db import connection
from django.db.models import Model
from django.dispatch import receiver

from .bus import event_recorded
from .envelope import RecordedEvent
from .subscribers import Subscriber, register_subscriber

Handler = Callable[[RecordedEvent], None]
BatchHandler = Callable[[Sequence[RecordedEvent]], None]
INLINE = "inline"
ASYNC = "async"
ALL_TYPES = "*"  # a handler under this key receives every event


@dataclass(frozen=True)
class Projection:
    """A named read model: `handlers` maps event type names to functions applying one event."""

    name: str
    handlers: Mapping[str, Handler]
    models: Sequence[type[Model]]
    mode: Literal["inline", "async"] = INLINE
    description: str = ""
    # Called after a rebuild's reset, before the first event (e.g. to seed rows).
    on_reset: Callable[[], None] | None = field(default=None)
    # Applies a list of events (position order) with set-based SQL, leaving exactly the
    # rows that applying them one by one leaves; a rebuild uses it when present.
    batch_apply: BatchHandler | None = field(default=None)

    @property
    def event_types(self) -> list[str] | None:
        """The types this projection reads, or None for all of them."""
        return None if ALL_TYPES in self.handlers else sorted(self.handlers)

    def apply(self, event: RecordedEvent) -> None:
        handler = self.handlers.get(event.type) or self.handlers.get(ALL_TYPES)
        if handler is not None:
            handler(event)

    def apply_batch(self, events: Sequence[RecordedEvent]) -> None:
        """Apply `events` (in position order): in one go when the projection can, else one by one."""
        if self.batch_apply is not None:
            self.batch_apply(events)
            return
        for event in events:
            self.apply(event)

    def table_names(self) -> list[str]:
        return [model._meta.db_table for model in self.models]

    def reset(self) -> None:
        """Empty the projection's tables (inside the rebuild's transaction)."""
        tables = ", ".join(connection.ops.quote_name(t) for t in self.table_names())
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {tables}")
        if self.on_reset is not None:
            self.on_reset()


_projections: dict[str, Projection] = {}


def register_projection(projection: Projection) -> Projection:
    """Register a projection; an async one is also registered as a subscriber of its name."""
    existing = _projections.get(projection.name)
    if existing is not None and existing is not projection:
        raise ValueError(f"projection {projection.name!r} is registered twice")
    _projections[projection.name] = projection
    if projection.mode == ASYNC:
        register_subscriber(
            Subscriber(name=projection.name, handlers=projection.handlers, description=projection.description)
        )
    return projection


def get_projection(name: str) -> Projection:
    return _projections[name]


def registered_projections() -> dict[str, Projection]:
    return dict(_projections)


@receiver(event_recorded, dispatch_uid="eventstore.apply_inline_projections")
def apply_inline_projections(sender, *, event: RecordedEvent, **_kwargs) -> None:
    for projection in _projections.values():
        if projection.mode == INLINE:
            projection.apply(event)
