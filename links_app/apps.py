from django.apps import AppConfig


class LinksAppConfig(AppConfig):
    name = "links_app"
    verbose_name = "Links"

    def ready(self) -> None:
        # Event types, projections and subscribers register themselves on import.
        from . import events, handlers, projections  # noqa: F401
