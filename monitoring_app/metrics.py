"""/metrics for Prometheus: the platform's own figures, computed from Postgres at scrape time.

Computing at scrape time (not in-process counters) gives every web process
the same answer, however many gunicorn workers there are. The process
collectors of prometheus_client (CPU, memory of the answering process) follow.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from eventstore.backfills import backfill_counts
from eventstore.horizon_report import WAITING_COUNT_LIMIT, horizon_report
from eventstore.monitoring import (
    default_partition_events,
    head_position,
    relay_lag,
    relay_paced,
    runner_partitions,
)
from eventstore.projection_audit import last_audit
from eventstore.redis import REDIS_ERRORS, get_redis
from eventstore.selectors import delivery_checks, subscriber_status
from eventstore.subscribers import registered_subscribers
from links_app.selectors import completed_scans_by_verdict

from .selectors import events_by_type_total


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
        yield GaugeMetricFamily(
            "platform_log_default_partition_events",
            "Events in the log's default partition: appended past every range partition, "
            "not yet settled into one (0 normally; eventstore.partitions).",
            default_partition_events(),
        )
        report = horizon_report()
        yield GaugeMetricFamily(
            "platform_horizon_events_waiting",
            f"Committed events above the horizon, waiting for an older transaction (up to {WAITING_COUNT_LIMIT}).",
            report.events_waiting,
        )
        holder = report.holder
        yield GaugeMetricFamily(
            "platform_horizon_holder_age_seconds",
            "Age of the oldest running transaction of the database, which holds the horizon (0: none).",
            (holder.age_seconds or 0.0) if holder else 0.0,
        )
        yield GaugeMetricFamily(
            "platform_horizon_stalled",
            "1 while that transaction is older than HORIZON_STALL_SECONDS.",
            report.stalled,
        )
        if report.stalled:  # who it is, only then (a label per passing pid would churn series)
            info = GaugeMetricFamily(
                "platform_horizon_holder_info",
                "The transaction holding the horizon back.",
                labels=["pid", "database", "application_name", "state", "username"],
            )
            info.add_metric(
                [
                    str(holder.pid or ""),
                    holder.database,
                    holder.application_name,
                    holder.state or "",
                    holder.username,
                ],
                1,
            )
            yield info
        consumed = runner_partitions()
        if consumed is not None:  # Redis down: /health says so; the other figures still come
            yield GaugeMetricFamily(
                "platform_stream_runner_partitions",
                "Partitions a live stream runner consumes (the rest go to Celery workers).",
                len(consumed),
            )
            paced = relay_paced()
            if paced is not None:
                yield GaugeMetricFamily(
                    "platform_relay_paced",
                    "1 while the relay reads on a clock because of a high commit rate (commits do not wake it).",
                    int(paced),
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
        yield from _backfill_metrics()
        yield from _delivery_check_metrics()
        scans = CounterMetricFamily(
            "platform_link_scans", "Completed link scans by verdict.", labels=["verdict"]
        )
        for verdict, count in completed_scans_by_verdict().items():
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


def _delivery_check_metrics():
    missed = GaugeMetricFamily(
        "platform_delivery_missed_events",
        "Events of its types a subscriber did not handle, at the last delivery check.",
        labels=["subscriber"],
    )
    doubled = GaugeMetricFamily(
        "platform_delivery_doubled_events",
        "Events a subscriber handled more than once in effect, at the last delivery check.",
        labels=["subscriber"],
    )
    age = GaugeMetricFamily(
        "platform_delivery_check_age_seconds", "Seconds since the last delivery check.", labels=["subscriber"]
    )
    for check in delivery_checks():
        missed.add_metric([check["subscriber"]], check["missed"])
        doubled.add_metric([check["subscriber"]], check["doubled"])
        age.add_metric([check["subscriber"]], check["age_seconds"])
    yield missed
    yield doubled
    yield age


def _backfill_metrics():
    """Backfills by subscriber (counted in Redis); left out while Redis is down, as /health says."""
    try:
        counts = backfill_counts(get_redis())
    except REDIS_ERRORS:
        return
    backfills = CounterMetricFamily(
        "platform_subscriber_backfills",
        "Times a consumer read events from Postgres that Redis did not bring (0 in a healthy steady state).",
        labels=["subscriber"],
    )
    events = CounterMetricFamily(
        "platform_subscriber_backfilled_events",
        "Events consumers read from Postgres in backfills.",
        labels=["subscriber"],
    )
    for name in sorted(set(registered_subscribers()) | set(counts)):
        runs, read = counts.get(name, (0, 0))
        backfills.add_metric([name], runs)
        events.add_metric([name], read)
    yield backfills
    yield events


_platform_registry = CollectorRegistry(auto_describe=False)
_platform_registry.register(PlatformCollector())


def render_metrics() -> bytes:
    return generate_latest(_platform_registry) + generate_latest(REGISTRY)
