from django.apps import AppConfig


class EventstoreConfig(AppConfig):
    name = "eventstore"
    verbose_name = "Event store"

    def ready(self) -> None:
        # Connect the store's receivers to the in-process bus, and the positions' catch-up to new connections.
        from . import bus, positions, projections, statistics, tasks  # noqa: F401
