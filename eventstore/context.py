"""Who and what caused the events being recorded right now.

Correlation and causation ids, and request metadata, travel in context
variables so that domain code never passes them: the request middleware, the
Celery task hooks and the subscriber runner set them, `publish()` reads them.
Context variables (not thread locals) keep them right under threads and asyncio.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

_correlation_id: ContextVar[uuid.UUID | None] = ContextVar("correlation_id", default=None)
_causation_id: ContextVar[uuid.UUID | None] = ContextVar("causation_id", default=None)
_metadata: ContextVar[dict[str, Any]] = ContextVar("event_metadata", default={})  # noqa: B039
# The event being recorded or handled right now: log lines name it (platform_site.logging).
_event_id: ContextVar[uuid.UUID | None] = ContextVar("event_id", default=None)


def parse_uuid(value: object) -> uuid.UUID | None:
    """Return `value` as a UUID, or None when it is not one (never raises)."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def current_correlation_id() -> uuid.UUID | None:
    return _correlation_id.get()


def current_causation_id() -> uuid.UUID | None:
    return _causation_id.get()


def current_metadata() -> dict[str, Any]:
    return dict(_metadata.get())


def current_event_id() -> uuid.UUID | None:
    return _event_id.get()


class about_event:  # lower case: used like the context-manager functions beside it
    """Log lines written inside the block carry `event_id` (publishing or handling it).

    A class rather than a generator: every publish() enters one, and a
    generator-based context manager costs several times more per use.
    """

    __slots__ = ("_event_id", "_token")

    def __init__(self, event_id: uuid.UUID) -> None:
        self._event_id = event_id

    def __enter__(self) -> None:
        self._token = _event_id.set(self._event_id)

    def __exit__(self, *exc_info: object) -> None:
        _event_id.reset(self._token)


@contextlib.contextmanager
def event_context(
    *,
    correlation_id: uuid.UUID | None = None,
    causation_id: uuid.UUID | None = None,
    metadata: dict[str, Any] | None = None,
) -> Iterator[uuid.UUID]:
    """Run a block as one unit of work: everything it publishes shares a correlation id.

    Without a correlation id a fresh one is made; without a causation id the
    first events of the block point at the correlation id itself (the request).
    Metadata given here is merged over the enclosing context's.
    """
    correlation = correlation_id or uuid.uuid4()
    tokens = [
        (_correlation_id, _correlation_id.set(correlation)),
        (_causation_id, _causation_id.set(causation_id)),
    ]
    if metadata is not None:
        tokens.append((_metadata, _metadata.set({**_metadata.get(), **metadata})))
    try:
        yield correlation
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


@contextlib.contextmanager
def caused_by(event_id: uuid.UUID, correlation_id: uuid.UUID | None) -> Iterator[None]:
    """Events published inside the block were caused by `event_id` (a subscriber's input)."""
    with (
        event_context(correlation_id=correlation_id, causation_id=event_id, metadata={}),
        about_event(event_id),
    ):
        yield
