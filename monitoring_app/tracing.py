"""OpenTelemetry tracing for every process of the platform, on when an OTLP endpoint is set.

`configure()` installs the SDK's tracer provider with an OTLP/HTTP exporter and
the standard instrumentations for Django, psycopg, Redis and Celery. The event
store's own spans (append, relay, handlers; eventstore.tracing) use the API
only and start recording from then on; the trace context they carry in each
event's metadata joins the processes into one trace per request.

Statements and Redis commands issued outside any traced unit of work (the
stream runner's polls, the relay's reads, beat's sweeps) are not recorded:
they would make a root trace each, several a second, and say nothing.
"""

from __future__ import annotations

import logging

from django.conf import settings
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult

logger = logging.getLogger(__name__)


class _NoRootClientSpans(Sampler):
    """For spans without a parent: keep servers, consumers and producers; drop SQL and Redis calls."""

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None):
        if kind == trace.SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "NoRootClientSpans"


def configure(exporter: SpanExporter | None = None) -> bool:
    """Install tracing once per process; True when it is on. `exporter` defaults to OTLP/HTTP."""
    if exporter is None:
        if not settings.TRACING_OTLP_ENDPOINT:
            return False
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()  # reads OTEL_EXPORTER_OTLP_ENDPOINT and the other variables
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: settings.TRACING_SERVICE_NAME}),
        sampler=ParentBased(root=_NoRootClientSpans()),
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _instrument_libraries()
    logger.info("tracing on: spans exported to %s", settings.TRACING_OTLP_ENDPOINT or exporter)
    return True


def _instrument_libraries() -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    DjangoInstrumentor().instrument()
    PsycopgInstrumentor().instrument()
    RedisInstrumentor().instrument()
    CeleryInstrumentor().instrument()
