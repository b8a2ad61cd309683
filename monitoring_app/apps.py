from django.apps import AppConfig


class MonitoringAppConfig(AppConfig):
    """Staff pages over the log (explorer, live dashboard), /metrics and the demo workload."""

    name = "monitoring_app"
    label = "monitoring_app"
    verbose_name = "Monitoring"
