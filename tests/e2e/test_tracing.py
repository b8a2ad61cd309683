"""One OpenTelemetry trace from `POST /api/posts/` to the handler of `community:post_flagged`.

The platform's processes (gunicorn, a Celery worker that runs the subscribers,
beat) export their spans by OTLP over HTTP to a receiver this test runs. The
trace context crosses from the web process to the worker only inside the
events' metadata (through the log, the relay and the Redis stream entries), so
a single trace proves it was carried at every hop.
"""

from __future__ import annotations

import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from .harness import free_port, wait_for
from .test_flows import flagged, post_with_link


class OtlpReceiver:
    """Spans received on /v1/traces, as dicts: name, kind, trace, span and parent ids, attributes."""

    def __init__(self) -> None:
        self.spans: list[dict] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver._take(ExportTraceServiceRequest.FromString(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _take(self, request: ExportTraceServiceRequest) -> None:
        found = []
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(
                        {
                            "name": span.name,
                            "kind": span.kind,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_id": span.parent_span_id.hex(),
                            "attributes": {
                                a.key: a.value.string_value or a.value.int_value for a in span.attributes
                            },
                        }
                    )
        with self._lock:
            self.spans.extend(found)

    def named(self, name: str) -> list[dict]:
        with self._lock:
            return [span for span in self.spans if span["name"] == name]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver():
    running = OtlpReceiver()
    yield running
    running.close()


SERVER_KIND = 2  # opentelemetry.proto.trace.v1.Span.SpanKind.SPAN_KIND_SERVER


def test_one_trace_runs_from_the_post_request_to_the_post_flagged_handler(platform, accounts, receiver):
    platform.extra_env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
        OTEL_BSP_SCHEDULE_DELAY="100",  # export within a tenth of a second, not five
    )
    platform.start_web()
    platform.start_worker("tracing")
    platform.start_beat()
    member = accounts.member(f"traced{uuid.uuid4().hex[:6]}")
    correlation = uuid.uuid4()

    post = post_with_link(platform, member, correlation)
    wait_for(lambda: flagged(platform, post["id"]), timeout=60, message="the post to be flagged")
    flagged_span = wait_for(
        lambda: [
            span
            for span in receiver.named("projection community.posts handle community:post_flagged")
            if span["attributes"]["event.correlation_id"] == str(correlation)
        ],
        timeout=30,
        message="the post_flagged handler's span",
    )[0]

    trace_spans = {s["span_id"]: s for s in receiver.spans if s["trace_id"] == flagged_span["trace_id"]}
    chain = [flagged_span]
    while chain[-1]["parent_id"]:
        parent_id = chain[-1]["parent_id"]
        chain.append(
            wait_for(
                lambda parent_id=parent_id: _span(receiver, trace_spans, parent_id),
                timeout=10,
                message=f"parent span {parent_id}",
            )
        )
    names = [span["name"] for span in reversed(chain)]

    root = chain[-1]
    assert root["kind"] == SERVER_KIND and "api/posts" in root["name"], names
    # Each handler's span is a child of the span that published its event, in another process.
    hops = [
        "publish community:post_created",
        "links handle community:post_created",
        "publish link:scan_requested",
        "links-scanner handle link:scan_requested",
        "publish link:threat_detected",
        "community handle link:threat_detected",
        "publish community:post_flagged",
        "projection community.posts handle community:post_flagged",
    ]
    assert [name for name in names if name in hops] == hops, names
    # The relay sent each of those events within the same trace, from the span that published it.
    by_name = {span["name"]: span for span in chain}
    for event_type in ("community:post_created", "link:scan_requested", "link:threat_detected"):
        publisher = by_name[f"publish {event_type}"]
        relayed = wait_for(
            lambda publisher=publisher, event_type=event_type: [
                span
                for span in receiver.named(f"relay {event_type}")
                if span["parent_id"] == publisher["span_id"]
            ],
            timeout=10,
            message=f"the relay's span for {event_type}",
        )
        assert len(relayed) == 1 and relayed[0]["trace_id"] == root["trace_id"]


def _span(receiver: OtlpReceiver, trace_spans: dict, span_id: str) -> dict | None:
    """A span of the trace by id; those of other processes may arrive after the handler's."""
    with receiver._lock:
        for span in receiver.spans:
            trace_spans.setdefault(span["span_id"], span)
    return trace_spans.get(span_id)
