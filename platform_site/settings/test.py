"""Settings for the test suite: the real Postgres and Redis, kept apart from dev data."""

from eventstore.redis_location import cache_location, celery_broker

from .base import *  # noqa: F403
from .base import env

DEBUG = False
# A Redis database of its own, so tests never touch a developer's running platform;
# under pytest-xdist one per worker (gw0 → 9, gw1 → 10, …), as pytest-django gives
# each worker a test database of its own. A TEST_REDIS_URL given is used as it is.
_xdist_worker = env("PYTEST_XDIST_WORKER", default="")
_worker_number = int(_xdist_worker[2:]) if _xdist_worker.startswith("gw") else 0
REDIS_URL = env("TEST_REDIS_URL", default=f"redis://127.0.0.1:6379/{9 + _worker_number}")
CACHES["default"].update(cache_location(REDIS_URL, REDIS_SOCKET_TIMEOUT))  # noqa: F405
# Celery's broker cannot be a Redis Cluster: a cluster test names a Redis of its own for it.
CELERY_BROKER_URL, _broker_options = celery_broker(env("TEST_CELERY_BROKER_URL", default=REDIS_URL))
CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, **_broker_options}  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# Small partitions, so tests cross their bounds by burning a few thousand transaction ids.
EVENTSTORE_PARTITION_TRANSACTIONS = 16384
EVENTSTORE_PARTITIONS_AHEAD = 16
# Tests serve static files from the finders; no collectstatic run needed.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Event types and a recording subscriber that only the tests use.
INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp"]  # noqa: F405
SUBSCRIBER_RETRY_BASE_SECONDS = 0.01
# Parallel test runs on one machine (several checkouts, CI) each name their own database.
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default="test_platform")}  # noqa: F405
# Rate limits are tested with their own low rates; elsewhere they must not trip.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {**REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "write": "100000/min"},  # noqa: F405
}
ROOT_URLCONF = "tests.testapp.urls"
# The per-address login rate (auth_app.login_rate) is tested with its own low limit.
LOGIN_IP_RATE_ATTEMPTS = 100000
