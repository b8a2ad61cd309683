"""Django settings for benchmark runs: base settings on their own database and Redis db.

Every bench process (the runner, its worker processes, `manage.py`, the Celery
worker and gunicorn) uses this module, so they all see the bench event type
and the latency subscriber of `bench.benchapp`.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/platform_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")
# The API's write throttle would cap the HTTP figure at 120 requests/min per user.
os.environ.setdefault("THROTTLE_WRITE_RATE", "100000000/min")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from platform_site.settings.base import *  # noqa: F403
from platform_site.settings.base import INSTALLED_APPS, REST_FRAMEWORK

# DEBUG=True would keep every SQL statement in memory and slow every query down.
DEBUG = False
INSTALLED_APPS = [*INSTALLED_APPS, "bench.benchapp"]
# Creating the 16 HTTP users is setup, not a figure: a fast hasher keeps it short.
# Requests authenticate with knox tokens, which this setting does not touch.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]}
# The platform's URLs and the plain-Django control endpoints of figure (24.5).
ROOT_URLCONF = "bench.urls"
