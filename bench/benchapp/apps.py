from django.apps import AppConfig


class BenchAppConfig(AppConfig):
    name = "bench.benchapp"
    label = "benchapp"
    verbose_name = "Benchmarks"

    def ready(self) -> None:
        # The bench event type and the latency subscriber register themselves on import.
        from . import events, handlers  # noqa: F401
