from django.apps import AppConfig


class LinksAppConfig(AppConfig):
    name = "links_app"
    verbose_name = "Links"

    def ready(self) -> None:
        # Event types and in-process handlers register themselves on import.
        from . import events  # noqa: F401
