from django.apps import AppConfig


class EventstoreConfig(AppConfig):
    name = "eventstore"
    verbose_name = "Event store"

    def ready(self) -> None:
        # Register the store's own projection (statistics) and Celery tasks, connect the positions'
        # catch-up to new connections, and the projection-version check to `manage.py check --database`.
        from . import positions, projection_versions, statistics, tasks  # noqa: F401
