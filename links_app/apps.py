from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class LinksAppConfig(AppConfig):
    name = "links_app"
    verbose_name = "Links"

    def ready(self) -> None:
        # Event types, projections and subscribers register themselves on import.
        from . import events, handlers, projections  # noqa: F401

        configure_scanner_thresholds()


def configure_scanner_thresholds() -> None:
    """Apply LINK_SCANNER_MALICIOUS_RISK / LINK_SCANNER_SUSPICIOUS_RISK (unset: the shipped ones)."""
    from .scanner.scoring import configure_thresholds

    try:
        configure_thresholds(
            malicious=getattr(settings, "LINK_SCANNER_MALICIOUS_RISK", None),
            suspicious=getattr(settings, "LINK_SCANNER_SUSPICIOUS_RISK", None),
        )
    except (TypeError, ValueError) as error:
        raise ImproperlyConfigured(str(error)) from error
