"""Staff pages: the event explorer, the live dashboard (with its SSE feed), and /metrics."""

from __future__ import annotations

import json
import uuid

from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from eventstore import Shown, can_read_personal_data, record_view
from eventstore.context import parse_uuid
from eventstore.projection_audit import last_audit
from eventstore.redis import get_redis
from eventstore.selectors import delivery_checks, subscriber_status

from .access import metrics_access, staff_required
from .forms import EventFilterForm
from .live import live_events, parse_last_event_id
from .metrics import render_metrics
from .selectors import (
    EventFilter,
    correlation_tree,
    dashboard_status,
    event_page,
    platform_health,
    stream_history,
    type_distribution,
)


@require_GET
@staff_required
def event_list(request):
    # A pasted correlation id jumps straight to its causal tree.
    jump = request.GET.get("correlation_id", "").strip()
    if jump:
        correlation = parse_uuid(jump)
        if correlation is not None:
            return redirect("monitoring:correlation", correlation_id=correlation)
    form = EventFilterForm(request.GET or None)
    filters = form.to_filter() if form.is_bound and form.is_valid() else EventFilter()
    events, next_before = event_page(filters, now=timezone.now())
    next_query = request.GET.copy()
    next_query.pop("before", None)
    newest_url = f"?{next_query.urlencode()}" if filters.before is not None else None
    if next_before is not None:
        next_query["before"] = next_before
    context = {
        "form": form,
        "events": events,
        "filtered": any([filters.type, filters.source, filters.stream_id, filters.since]),
        "bad_correlation": bool(jump),
        "next_url": f"?{next_query.urlencode()}" if next_before is not None else None,
        "newest_url": newest_url,
    }
    return render(request, "monitoring/event_list.html", context)


@require_GET
@staff_required
def stream_detail(request, stream_id: str):
    # No stream id holds a NUL (Postgres text cannot) or is longer than the column.
    if "\x00" in stream_id or len(stream_id) > 200:
        return _not_found(request, "Not a stream id.")
    try:
        after_version = max(0, min(int(request.GET.get("after_version", 0)), 2**31 - 1))
    except ValueError:
        after_version = 0
    personal = can_read_personal_data(request.user)
    history, next_after = stream_history(stream_id, after_version=after_version, personal_data=personal)
    if personal and not _recorded(
        request, [entry["event"] for entry in history], "explorer:stream", stream_id
    ):
        history, next_after = stream_history(stream_id, after_version=after_version, personal_data=False)
    if not history:
        return _not_found(request, f"No events in stream “{stream_id}”.")
    for entry in history:
        entry["data_json"] = _pretty(entry["event"].data)
        entry["metadata_json"] = _pretty(entry["event"].metadata)
        entry["state_json"] = _pretty(entry["state"])
    context = {
        "stream_id": stream_id,
        "history": history,
        "after_version": after_version,
        "next_after_version": next_after,
    }
    return render(request, "monitoring/stream.html", context)


@require_GET
@staff_required
def correlation_detail(request, correlation_id: uuid.UUID):
    # The tree names types, streams and timings, no personal value: no audit row (docs/privacy.md).
    tree = correlation_tree(correlation_id, personal_data=can_read_personal_data(request.user))
    if tree is None:
        return _not_found(request, f"No events carry the correlation id {correlation_id}.")
    return render(request, "monitoring/correlation.html", {"tree": tree})


def _recorded(request, events: list, place: str, reference) -> bool:
    """Record the personal values these events show the viewer (one row); False when that failed."""
    shown = Shown()
    shown.add_events(events)
    return record_view(request.user, shown, place=place, reference=str(reference))


def _with_delivery_checks(rows: list[dict]) -> list[dict]:
    checks = {check["subscriber"]: check for check in delivery_checks()}
    return [{**row, "delivery": checks.get(row["name"])} for row in rows]


@require_GET
@staff_required
def dashboard(request):
    now = timezone.now()
    context = {
        "health": platform_health(),
        "subscribers": _with_delivery_checks(subscriber_status()),
        "audit": last_audit(),
        "by_type": type_distribution(now=now),
        "live_url": reverse("monitoring:live"),
        "status_url": reverse("monitoring:status"),
    }
    return render(request, "monitoring/dashboard.html", context)


@require_GET
@never_cache
@staff_required
def dashboard_status_json(request):
    return JsonResponse(dashboard_status(now=timezone.now()))


@require_GET
@staff_required
def live_feed(request):
    last_seen = parse_last_event_id(request.headers.get("Last-Event-ID", ""))
    response = StreamingHttpResponse(
        live_events(get_redis(), after_position=last_seen),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy in front must not buffer the stream
    return response


@require_GET
@never_cache
@metrics_access
def metrics(request):
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_PLAIN_0_0_4)


def _pretty(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _not_found(request, message: str):
    return render(request, "monitoring/not_found.html", {"message": message}, status=404)
