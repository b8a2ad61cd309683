from django.apps import AppConfig


class CommunityAppConfig(AppConfig):
    name = "community_app"
    verbose_name = "Community"

    def ready(self) -> None:
        # Event types, projections and subscriber handlers register themselves on import.
        from . import events, handlers, projections  # noqa: F401
