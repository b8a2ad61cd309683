from django.apps import AppConfig


class EventstoreConfig(AppConfig):
    name = "eventstore"
    verbose_name = "Event store"

    def ready(self) -> None:
        # Register the store's own projection (statistics) and Celery tasks, connect the positions'
        # catch-up to new connections, the projection-version and swap checks to `manage.py check
        # --database`, and the timing constants' check to `manage.py check`.
        from . import positions, projection_versions, shadow, statistics, tasks, timing_checks  # noqa: F401
