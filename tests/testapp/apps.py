from django.apps import AppConfig


class TestAppConfig(AppConfig):
    """Event types and a subscriber used only by the test suite (and its worker processes)."""

    name = "tests.testapp"
    label = "testapp"

    def ready(self) -> None:
        from tests import sample_events  # noqa: F401

        from . import handlers  # noqa: F401
