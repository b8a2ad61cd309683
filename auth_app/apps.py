from django.apps import AppConfig


class AuthAppConfig(AppConfig):
    name = "auth_app"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Event types and in-process handlers register themselves on import.
        from . import events  # noqa: F401
