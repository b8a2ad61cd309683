from django.apps import AppConfig


class EventstoreConfig(AppConfig):
    name = "eventstore"
    verbose_name = "Event store"

    def ready(self) -> None:
        # Connect the store's receivers to the in-process bus.
        from . import bus, projections, statistics, tasks  # noqa: F401
