"""Gunicorn in production: `gunicorn -c deploy/gunicorn.conf.py platform_site.wsgi:application`.

Threads (gthread) because requests mostly wait on Postgres; every setting can
be changed through the environment without rebuilding the image.
"""

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for platform_site

from platform_site.logging import logging_config

port = os.environ.get("PORT", "8000")
bind = f"0.0.0.0:{port}"
# gunicornc's control socket, one per port in the temporary directory. Gunicorn's default,
# $HOME/.gunicorn/gunicorn.ctl, is one socket for every gunicorn of the user on the host (the
# last started takes it over), and an ERROR "Control server error" at each start where $HOME is
# not writable, as in the image (HOME=/app, owned by root). Operator run, docs/operations.md.
control_socket = os.environ.get(
    "GUNICORN_CONTROL_SOCKET", os.path.join(tempfile.gettempdir(), f"platform-gunicorn-{port}.ctl")
)
worker_class = "gthread"
# Each process x thread may hold one Postgres connection (CONN_MAX_AGE): count them (docs/deploy.md).
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM, requests in flight get this long to finish: less than the orchestrator's grace period.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "25"))
keepalive = 5
# Recycle processes now and then, staggered, so that no slow leak grows for ever.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
# Heartbeat files in memory, not on the container's overlay filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# Only the proxy in front may say which scheme the client used (SECURE_PROXY_SSL_HEADER).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# One JSON line per request comes from the application (platform.request); no access log twice.
accesslog = None
errorlog = "-"
logconfig_dict = logging_config(os.environ.get("LOG_FORMAT", "json"), os.environ.get("LOG_LEVEL", "INFO"))
