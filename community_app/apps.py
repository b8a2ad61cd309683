from django.apps import AppConfig


class CommunityAppConfig(AppConfig):
    name = "community_app"
    verbose_name = "Community"

    def ready(self) -> None:
        # Event types and in-process handlers register themselves on import.
        from . import events  # noqa: F401
