"""The Celery app: Redis broker, tasks found in every installed app."""

import os

from celery import Celery

from platform_site import broker_reconnect

# Production unless told otherwise: a forgotten variable must not mean DEBUG and public keys.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings.production")

broker_reconnect.install()  # before any worker connects: see that module
app = Celery("platform_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Importing the module connects the correlation-id hooks in workers and web alike.
import platform_site.correlation  # noqa: E402,F401
