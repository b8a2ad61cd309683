from django.apps import AppConfig


class AuthAppConfig(AppConfig):
    name = "auth_app"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Event types, the login-security projection and the receivers of
        # Django's login signals register themselves on import.
        from . import events, projections, signals  # noqa: F401
