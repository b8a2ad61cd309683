"""Queries of the monitoring pages (they read the log and the event store's projections)."""

from .dashboard import (
    dashboard_status,
    events_by_type_total,
    events_per_minute,
    platform_health,
    type_distribution,
)
from .explorer import (
    PAGE_SIZE,
    SINCE_CHOICES,
    EventFilter,
    correlation_tree,
    event_page,
    known_types_and_sources,
    stream_history,
)

__all__ = [
    "PAGE_SIZE",
    "SINCE_CHOICES",
    "EventFilter",
    "correlation_tree",
    "dashboard_status",
    "event_page",
    "events_by_type_total",
    "events_per_minute",
    "known_types_and_sources",
    "platform_health",
    "stream_history",
    "type_distribution",
]
