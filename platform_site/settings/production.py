"""Production settings: everything secret comes from the environment, HTTPS only."""

from .base import *  # noqa: F403
from .base import DEVELOPMENT_MASTER_KEY, DEVELOPMENT_SECRET_KEY, env, logging_config
from .key_checks import check_production_keys

DEBUG = False
SECRET_KEY = env("SECRET_KEY")
# No default: without it personal data could not be read back (docs/privacy.md).
PERSONAL_DATA_MASTER_KEY = env("PERSONAL_DATA_MASTER_KEY")
# Missing, short or example keys stop every process here (settings/key_checks.py).
check_production_keys(
    secret_key=SECRET_KEY,
    master_key=PERSONAL_DATA_MASTER_KEY,
    known_public=frozenset({DEVELOPMENT_SECRET_KEY, DEVELOPMENT_MASTER_KEY}),
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    # No browsable HTML API in production: JSON only.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

# JSON log lines unless told otherwise; static files with hashed names, cached forever.
LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL)  # noqa: F405
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
