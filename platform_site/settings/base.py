"""Settings shared by every environment, read from the environment (12-factor).

Defaults work on the project's machine: Postgres and Redis on 127.0.0.1.
`production.py` tightens them; `test.py` isolates the test run.
"""

import datetime
from pathlib import Path

import environ

from eventstore.redis_location import cache_location, celery_broker
from platform_site.logging import logging_config

BASE_DIR = Path(__file__).resolve().parents[2]
env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

# Public, for development and tests only: production refuses it (settings/key_checks.py).
DEVELOPMENT_SECRET_KEY = "dev-only-insecure-key-change-me-in-production-0123456789"  # noqa: S105
SECRET_KEY = env("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
# Addresses or CIDR ranges of our own reverse proxies: only their X-Forwarded-For hops are
# believed (platform_site.correlation.client_ip). Empty: the peer address is the client.
TRUSTED_PROXIES = frozenset(env.list("TRUSTED_PROXIES", default=[]))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    # Swagger UI and ReDoc served from our own static files: /api/docs/ needs no CDN.
    "drf_spectacular_sidecar",
    "eventstore",
    "auth_app",
    "community_app",
    "links_app",
    "monitoring_app",
]

MIDDLEWARE = [
    "platform_site.correlation.CorrelationIdMiddleware",
    "platform_site.request_limits.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "platform_site.logging.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Pages outside the API answer an unreachable database with a 503 too (the API's handler does it there).
    "platform_site.database_errors.DatabaseUnavailableMiddleware",
    # Last, so that a read retried on the primary runs the view alone again.
    "platform_site.replicas.ReplicaReadsMiddleware",
]

ROOT_URLCONF = "platform_site.urls"
WSGI_APPLICATION = "platform_site.wsgi.application"
ASGI_APPLICATION = "platform_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/platform"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DB_CONNECT_TIMEOUT", default=3)
# Django's own (client-binding) cursors never prepare. The event store prepares its
# hot statements itself, under its own names (eventstore/prepared/), and reads this
# threshold for those it prepares only once they repeat (the batch handlers').
# DB_PREPARE_THRESHOLD=0 turns its preparing off (its statements still bind on the server).
DATABASES["default"]["OPTIONS"]["prepare_threshold"] = env.int("DB_PREPARE_THRESHOLD", default=5) or None
# A streaming replica for read-only requests (platform_site/replicas.py); unset,
# everything reads the primary. Sign-in state, writes and the event store's
# followers always use the primary.
if env("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["replica"].setdefault("OPTIONS", {})["connect_timeout"] = env.int(
        "DB_REPLICA_CONNECT_TIMEOUT", default=1
    )
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["platform_site.replicas.ReplicaRouter"]
# A client that wrote reads from the primary for this long (read-your-writes).
REPLICA_STICKY_SECONDS = env.float("REPLICA_STICKY_SECONDS", default=5.0)
# A replica that could not be reached is not tried again for this long.
REPLICA_RETRY_SECONDS = env.float("REPLICA_RETRY_SECONDS", default=5.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "auth_app.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# redis://, rediss:// or sentinel://host:port,host:port/service/db (eventstore/redis_location.py).
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Short timeouts: a Redis outage must be reported quickly (health 503), not hang requests.
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=1.0)
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        **cache_location(REDIS_URL, REDIS_SOCKET_TIMEOUT),
        "KEY_PREFIX": "platform",
    }
}
# The cache only holds rate-limit counters: while Redis is down, requests go on
# (unthrottled, each failure logged) instead of failing with 500s. Nothing of
# the platform's truth lives in the cache.
DJANGO_REDIS_IGNORE_EXCEPTIONS = True
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

CELERY_BROKER_URL, _broker_options = celery_broker(env("CELERY_BROKER_URL", default=REDIS_URL))
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged only after it ran, so a killed worker's task is redelivered.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker that lost its broker tries again after 0.5, 1, 1.5 s, then every this many
# seconds (platform_site/worker_consumer.py; Celery's own back-off reaches 30 s), and
# never gives up: Celery's default of 100 attempts would stop a worker after about
# 3 minutes of outage at these intervals.
BROKER_RETRY_MAX_SECONDS = env.float("BROKER_RETRY_MAX_SECONDS", default=2.0)
CELERY_WORKER_CONSUMER = "platform_site.worker_consumer:Consumer"
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Said explicitly (Celery 5.x warns at every lost broker connection until it is): a task running
# when the connection goes finishes; its unacknowledged message comes back after the visibility
# timeout and finds its work done (checkpoints, idempotent scans). The fault tests measured this.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A task not acknowledged this long after delivery (its worker died) is delivered again.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=300),
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
    **_broker_options,
}
CELERY_TIMEZONE = "UTC"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "auth_app.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PARSER_CLASSES": [
        "platform_site.request_limits.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "EXCEPTION_HANDLER": "platform_site.api_errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "write": env("THROTTLE_WRITE_RATE", default="120/min"),
    },
}
# API tokens expire AUTH_TOKEN_TTL_SECONDS (default 14 days) after their last use: each use
# pushes the expiry out again (written at most once a minute per token). An expired token
# answers 401 and is deleted, recorded as an `auth:logout` of reason `expired`.
REST_KNOX = {
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_TTL": datetime.timedelta(seconds=env.int("AUTH_TOKEN_TTL_SECONDS", default=14 * 24 * 3600)),
    "AUTO_REFRESH": True,
    "MIN_REFRESH_INTERVAL": 60,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "The platform API",
    "DESCRIPTION": "Event-sourced community platform: accounts, posts, link scans, events.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Self-hosted (drf-spectacular-sidecar): the docs pages request nothing from another host.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Swagger UI would otherwise send the schema to an online validator.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "/admin/login/"

# Hostile-input limits, set deliberately rather than left to defaults.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=256 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200

# Logs to stdout: readable text in development, JSON lines (LOG_FORMAT=json) in
# production, each line with its correlation, user and event ids (platform_site/logging.py).
LOG_FORMAT = env("LOG_FORMAT", default="text")
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL)
# Celery keeps its own log format, except when JSON lines are wanted from every process.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"
TEST_RUNNER = "platform_site.test_runner.PytestTestRunner"

# Event relay and subscribers (docs/eventstore.md).
EVENT_STREAM_PARTITIONS = env.int("EVENT_STREAM_PARTITIONS", default=4)
EVENT_STREAM_PREFIX = env("EVENT_STREAM_PREFIX", default="platform:")
EVENT_STREAM_MAXLEN = env.int("EVENT_STREAM_MAXLEN", default=200_000)
RELAY_BATCH_SIZE = env.int("RELAY_BATCH_SIZE", default=1000)
SUBSCRIBER_MAX_ATTEMPTS = env.int("SUBSCRIBER_MAX_ATTEMPTS", default=4)
# While the relay reads on its clock (a high commit rate), each partition of the stream runner
# starts a round at most this often (eventstore.relay_pacing); 0 reads as soon as woken.
STREAM_RUNNER_PACED_GATHER_SECONDS = env.float("STREAM_RUNNER_PACED_GATHER_SECONDS", default=0.05)
SUBSCRIBER_RETRY_BASE_SECONDS = env.float("SUBSCRIBER_RETRY_BASE_SECONDS", default=0.05)
# Threads (each its own connection) a rebuild builds the inline projections with, where they
# read different events (eventstore.parallel_build); 1 builds them on one connection.
REBUILD_JOBS = env.int("REBUILD_JOBS", default=2)
# /health/ says "degraded" once a transaction has held the horizon longer (eventstore.horizon_report).
HORIZON_STALL_SECONDS = env.float("HORIZON_STALL_SECONDS", default=15.0)
# The log's partitions (eventstore.partitions): each covers this many transactions' positions
# (2^20 positions each), and this many are kept ahead of the positions being taken.
EVENTSTORE_PARTITION_TRANSACTIONS = env.int("EVENTSTORE_PARTITION_TRANSACTIONS", default=1 << 20)
EVENTSTORE_PARTITIONS_AHEAD = env.int("EVENTSTORE_PARTITIONS_AHEAD", default=4)
# Where manage.py archive_events put the log's archived partitions: replay_events reads them
# first when no --archive is given (empty: none; a replay of an archived log then refuses).
EVENTSTORE_ARCHIVE_DIR = env("EVENTSTORE_ARCHIVE_DIR", default="")
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_SOCKET_TIMEOUT
CELERY_BEAT_SCHEDULE = {
    # Partitions of the log ahead of the positions being taken (also made on every new connection).
    "eventstore-partitions-ahead": {"task": "eventstore.tasks.ensure_partitions", "schedule": 60.0},
    # Safety net behind the after-commit kicks: lost kicks cost at most this long.
    "relay-and-consume-sweep": {"task": "eventstore.tasks.sweep", "schedule": 2.0},
    "links-retry-failed-scans": {"task": "links_app.tasks.retry_failed_scans", "schedule": 60.0},
}
# The consistency audit (eventstore/projection_audit.py): compares every projection with the
# log. Off by default (0); deploy/ turns it on. Expires after one interval so audits never pile up.
PROJECTION_AUDIT_INTERVAL_SECONDS = env.int("PROJECTION_AUDIT_INTERVAL_SECONDS", default=0)
if PROJECTION_AUDIT_INTERVAL_SECONDS > 0:
    CELERY_BEAT_SCHEDULE["eventstore-verify-projections"] = {
        "task": "eventstore.tasks.verify_projections",
        "schedule": float(PROJECTION_AUDIT_INTERVAL_SECONDS),
        "options": {"expires": PROJECTION_AUDIT_INTERVAL_SECONDS},
    }
# The delivery check (manage.py verify_delivery) reads the subscribers' events of the whole
# log: off by default (0), hourly in deploy/.
DELIVERY_CHECK_INTERVAL_SECONDS = env.int("DELIVERY_CHECK_INTERVAL_SECONDS", default=0)
if DELIVERY_CHECK_INTERVAL_SECONDS > 0:
    CELERY_BEAT_SCHEDULE["delivery-check"] = {
        "task": "eventstore.tasks.verify_delivery",
        "schedule": float(DELIVERY_CHECK_INTERVAL_SECONDS),
    }

# Crypto-shredding (docs/privacy.md): personal fields of events are encrypted with
# per-user data keys, wrapped by a key derived from this secret (>= 32 random bytes).
# The default is for development and tests ONLY: it is public, so it protects nothing.
DEVELOPMENT_MASTER_KEY = "INSECURE-DEV-ONLY-pdmk-u7Sx2Qe4Vb9Lr1Nc6Tz0Yw3Kp8Hg5Jf="
PERSONAL_DATA_MASTER_KEY = env("PERSONAL_DATA_MASTER_KEY", default=DEVELOPMENT_MASTER_KEY)
# Former master keys (comma-separated), still accepted to unwrap during a rotation.
PERSONAL_DATA_PREVIOUS_MASTER_KEYS = env.list("PERSONAL_DATA_PREVIOUS_MASTER_KEYS", default=[])

# Link scanning (links_app/services): how long a result stays fresh, and retries of crashed scans.
LINK_RESCAN_AFTER = datetime.timedelta(seconds=env.int("LINK_RESCAN_AFTER_SECONDS", default=86400))
LINK_SCAN_MAX_ATTEMPTS = env.int("LINK_SCAN_MAX_ATTEMPTS", default=5)
LINK_SCAN_RETRY_BASE_SECONDS = env.int("LINK_SCAN_RETRY_BASE_SECONDS", default=30)
# The scanner's operating points as risks in (0, 1] (safety_score = 100 * (1 - risk)); unset keeps
# the shipped ones chosen on grouped cross-validation (docs/scanner.md, "Operating points").
LINK_SCANNER_MALICIOUS_RISK = env.float("LINK_SCANNER_MALICIOUS_RISK", default=None)
LINK_SCANNER_SUSPICIOUS_RISK = env.float("LINK_SCANNER_SUSPICIOUS_RISK", default=None)

# Monitoring (monitoring_app): /metrics also answers `Authorization: Bearer <METRICS_TOKEN>`;
# unset means staff sessions only.
METRICS_TOKEN = env("METRICS_TOKEN", default=None)
# OpenTelemetry traces (monitoring_app.tracing), exported by OTLP over HTTP: off unless an
# endpoint is set. The exporter reads the other OTEL_* variables (headers, timeouts) itself.
TRACING_OTLP_ENDPOINT = env("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
TRACING_SERVICE_NAME = env("OTEL_SERVICE_NAME", default="platform")

# Rate limits and timeouts not set above, each from the environment (the table in
# docs/deploy.md lists every one with its default).
AUTH_REGISTER_THROTTLE_RATE = env("AUTH_REGISTER_THROTTLE_RATE", default="10/min")
LOGIN_LOCKOUT_ATTEMPTS = env.int("LOGIN_LOCKOUT_ATTEMPTS", default=5)
LOGIN_IP_LOCKOUT_ATTEMPTS = env.int("LOGIN_IP_LOCKOUT_ATTEMPTS", default=20)
LOGIN_LOCKOUT_WINDOW_SECONDS = env.int("LOGIN_LOCKOUT_WINDOW_SECONDS", default=15 * 60)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=15 * 60)
# Login attempts from one address per window before 429 without recording (auth_app.login_rate).
LOGIN_IP_RATE_ATTEMPTS = env.int("LOGIN_IP_RATE_ATTEMPTS", default=30)
LOGIN_IP_RATE_WINDOW_SECONDS = env.int("LOGIN_IP_RATE_WINDOW_SECONDS", default=60)
# How long the dashboard waits for Celery workers to answer its ping.
WORKER_PING_TIMEOUT_SECONDS = env.float("WORKER_PING_TIMEOUT_SECONDS", default=0.5)
