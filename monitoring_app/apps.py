from django.apps import AppConfig


class MonitoringAppConfig(AppConfig):
    """Staff pages over the log (explorer, live dashboard), /metrics and the demo workload."""

    name = "monitoring_app"
    label = "monitoring_app"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        # Before the first request builds the middleware chain, so Django's instrumentation is in it.
        from . import tracing

        tracing.configure()
