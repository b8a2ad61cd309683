"""/metrics for Prometheus: the platform's own figures, computed from Postgres at scrape time.

Computing at scrape time (not in-process counters) gives every web process
the same answer, however many gunicorn workers there are. The process
collectors of prometheus_client (CPU, memory of the answering process) follow.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from eventstore.monitoring import head_position, relay_lag, runner_partitions
from eventstore.projection_audit import last_audit
from eventstore.selectors import subscriber_status

from .selectors import events_by_type_total, scans_by_verdict


class PlatformCollector:
    """Collects the platform's figures on each scrape."""

    def collect(self):
        appended = CounterMetricFamily(
            "platform_events_appended",
            "Events appended to the log, by type and source (event-statistics projection, async).",
            labels=["type", "source"],
        )
        for event_type, source, count in events_by_type_total():
            appended.add_metric([event_type, source], count)
        yield appended
        yield GaugeMetricFamily("platform_log_head_position", "Last readable log position.", head_position())
        yield GaugeMetricFamily(
            "platform_relay_lag_events", "Events committed, not yet relayed.", relay_lag()
        )
        consumed = runner_partitions()
        if consumed is not None:  # Redis down: /health says so; the other figures still come
            yield GaugeMetricFamily(
                "platform_stream_runner_partitions",
                "Partitions a live stream runner consumes (the rest go to Celery workers).",
                len(consumed),
            )
        lag = GaugeMetricFamily(
            "platform_subscriber_lag_events",
            "Events after a subscriber's lowest checkpoint.",
            labels=["subscriber"],
        )
        parked = GaugeMetricFamily(
            "platform_subscriber_parked_events", "Unresolved parked events.", labels=["subscriber"]
        )
        for row in subscriber_status():
            lag.add_metric([row["name"]], row["lag"])
            parked.add_metric([row["name"]], row["parked"])
        yield lag
        yield parked
        scans = CounterMetricFamily(
            "platform_link_scans", "Completed link scans by verdict.", labels=["verdict"]
        )
        for verdict, count in scans_by_verdict().items():
            scans.add_metric([verdict or "unknown"], count)
        yield scans
        yield from _audit_metrics()


def _audit_metrics():
    """The last consistency audit (eventstore.projection_audit); nothing before the first one."""
    audit = last_audit()
    if audit is None:
        return
    yield GaugeMetricFamily(
        "platform_projection_audit_age_seconds",
        "Seconds since the last audit of the projections against the log finished.",
        audit["age_seconds"],
    )
    yield GaugeMetricFamily(
        "platform_projection_audit_drifted_tables",
        "Projection tables that differed from the log at the last audit (0: all in step).",
        len(audit["drifted"]),
    )
    rows = GaugeMetricFamily(
        "platform_projection_audit_drift_rows",
        "Rows of a drifted table only live, only rebuilt or differing, at the last audit.",
        labels=["projection", "table"],
    )
    for drift in audit["drifted"]:
        count = drift["only_live"] + drift["only_rebuilt"] + drift["differing"]
        rows.add_metric([drift["projection"], drift["table"]], count)
    yield rows


_platform_registry = CollectorRegistry(auto_describe=False)
_platform_registry.register(PlatformCollector())


def render_metrics() -> bytes:
    return generate_latest(_platform_registry) + generate_latest(REGISTRY)
