"""The Celery app: Redis broker, tasks found in every installed app."""

import os
import warnings

from celery import Celery
from celery.exceptions import CPendingDeprecationWarning

from platform_site import broker_reconnect

# Production unless told otherwise: a forgotten variable must not mean DEBUG and public keys.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings.production")

broker_reconnect.install()  # before any worker connects: see that module


def hide_connection_loss_notice() -> None:
    """Hide the notice Celery 5 writes at every lost broker connection.

    It says that the default of worker_cancel_long_running_tasks_on_connection_loss
    becomes True in 6.0. The settings choose it explicitly (settings/base.py), so the notice tells
    an operator nothing: it was the one warning of a Redis outage that said
    nothing about the outage (docs/operations.md, operator run of 2026-12-06).
    """
    warnings.filterwarnings(
        "ignore",
        message=r"\s*In Celery 5\.1 we introduced an optional breaking change",
        category=CPendingDeprecationWarning,
    )


hide_connection_loss_notice()
app = Celery("platform_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Importing the module connects the correlation-id hooks in workers and web alike.
import platform_site.correlation  # noqa: E402,F401
