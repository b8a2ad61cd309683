from django.apps import AppConfig


class EventstoreConfig(AppConfig):
    name = "eventstore"
    verbose_name = "Event store"

    def ready(self) -> None:
        # Connect the store's receivers to the in-process bus, the positions' catch-up to new
        # connections, the projection-version check to `manage.py check --database`, and the
        # timing constants' check to `manage.py check`.
        from . import bus, positions, projection_versions, projections, statistics, tasks, timing_checks  # noqa: F401
