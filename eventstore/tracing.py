"""OpenTelemetry spans for the event store, and the trace context every event carries.

The span that publishes an event leaves its W3C `traceparent` in the event's
metadata. The metadata travels with the event through the log, the relay and
the Redis stream entries, so the relay and every subscriber, in whatever
process they run, continue the publisher's trace: one trace from a request to
the last handler its events caused.

Only the OpenTelemetry API is used here. Until a tracer provider is installed
(monitoring_app.tracing does so when an OTLP endpoint is configured), nothing
is recorded and each call below costs a context-variable lookup.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT = "traceparent"

_tracer = trace.get_tracer("eventstore")
_propagator = TraceContextTextMapPropagator()


def enabled() -> bool:
    """True once a real tracer provider is installed (the API's own providers record nothing)."""
    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def recording() -> bool:
    """True inside a span that records (a traced request, task or handler)."""
    return trace.get_current_span().is_recording()


def add_trace_context(metadata: dict[str, Any]) -> dict[str, Any]:
    """Put the current span's `traceparent` into `metadata` (a fresh dict the caller owns)."""
    if trace.get_current_span().is_recording():
        _propagator.inject(metadata)
    return metadata


def _parent_of(metadata: dict[str, Any] | None):
    if not metadata or TRACEPARENT not in metadata:
        return None  # the current context: a Celery task's span, or a new trace
    return _propagator.extract(metadata)


def _event_attributes(event) -> dict[str, Any]:
    return {
        "event.id": str(event.id),
        "event.type": event.type,
        "event.stream_id": event.stream_id,
        "event.position": event.position,
        "event.correlation_id": str(event.correlation_id),
    }


@contextlib.contextmanager
def publishing(event_type: str, stream_id: str) -> Iterator[None]:
    """A span around one append, inside the span that publishes (callers check recording())."""
    with _tracer.start_as_current_span(
        f"publish {event_type}",
        kind=trace.SpanKind.PRODUCER,
        attributes={"event.type": event_type, "event.stream_id": stream_id},
    ):
        yield


@contextlib.contextmanager
def handling(consumer: str, event) -> Iterator[None]:
    """A span for one event handled by `consumer`, in the trace of the span that published it."""
    if not enabled():
        yield
        return
    with _tracer.start_as_current_span(
        f"{consumer} handle {event.type}",
        context=_parent_of(event.metadata),
        kind=trace.SpanKind.CONSUMER,
        attributes={"messaging.consumer": consumer, **_event_attributes(event)},
    ):
        yield


@contextlib.contextmanager
def handling_group(consumer: str, events: Iterable) -> Iterator[None]:
    """One span for a group handled by one set-based statement, linked to each event's trace."""
    if not enabled():
        yield
        return
    links = []
    for event in events:
        parent = _parent_of(event.metadata)
        if parent is not None:
            links.append(trace.Link(trace.get_current_span(parent).get_span_context()))
    with _tracer.start_as_current_span(f"{consumer} handle group", kind=trace.SpanKind.CONSUMER, links=links):
        yield


class RelaySpans:
    """One span per relayed event, in the event's own trace, ended when Redis took the batch."""

    def __init__(self) -> None:
        self._spans: list = []
        self._on = enabled()

    def add(self, type_name: str, stream_id: str, position: int, envelope: bytes | str) -> None:
        if not self._on:
            return
        metadata = orjson.loads(envelope).get("metadata")
        self._spans.append(
            _tracer.start_span(
                f"relay {type_name}",
                context=_parent_of(metadata),
                kind=trace.SpanKind.PRODUCER,
                attributes={
                    "event.type": type_name,
                    "event.stream_id": stream_id,
                    "event.position": position,
                },
            )
        )

    def end(self) -> None:
        for span in self._spans:
            span.end()
        self._spans.clear()
