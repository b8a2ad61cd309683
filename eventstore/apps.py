from django.apps import AppConfig


class EventstoreConfig(AppConfig):
    name = "eventstore"
    verbose_name = "Event store"

    def ready(self) -> None:
        # Connect the store's receivers to the in-process bus, the positions' catch-up to new
        # connections, and the projection-version check to `manage.py check --database`.
        from . import bus, positions, projection_versions, projections, statistics, tasks  # noqa: F401
