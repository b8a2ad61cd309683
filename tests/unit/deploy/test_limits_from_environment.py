"""Every rate limit and timeout is set from the environment, and docs/deploy.md lists each one."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# Variable: (a value unlike its default, where the setting is read, the value read there).
LIMITS = {
    "THROTTLE_WRITE_RATE": ("7/min", 'settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["write"]', "7/min"),
    "AUTH_REGISTER_THROTTLE_RATE": ("3/hour", "RegisterRateThrottle().get_rate()", "3/hour"),
    "LOGIN_LOCKOUT_ATTEMPTS": ("7", "lockout.attempts_limit()", 7),
    "LOGIN_IP_LOCKOUT_ATTEMPTS": ("33", "lockout.ip_attempts_limit()", 33),
    "LOGIN_LOCKOUT_WINDOW_SECONDS": ("123", "lockout.window().total_seconds()", 123),
    "LOGIN_LOCKOUT_SECONDS": ("456", "lockout.lock_duration().total_seconds()", 456),
    "LOGIN_IP_RATE_ATTEMPTS": ("44", "login_rate.attempts_limit()", 44),
    "LOGIN_IP_RATE_WINDOW_SECONDS": ("77", "login_rate.window_seconds()", 77),
    "AUTH_TOKEN_TTL_SECONDS": ("3600", 'settings.REST_KNOX["TOKEN_TTL"].total_seconds()', 3600),
    "HORIZON_STALL_SECONDS": ("30.5", "settings.HORIZON_STALL_SECONDS", 30.5),
    "DELIVERY_CHECK_INTERVAL_SECONDS": ("900", "settings.DELIVERY_CHECK_INTERVAL_SECONDS", 900),
    "DATA_UPLOAD_MAX_MEMORY_SIZE": ("12345", "settings.DATA_UPLOAD_MAX_MEMORY_SIZE", 12345),
    "REDIS_SOCKET_TIMEOUT": ("2.5", 'settings.CELERY_BROKER_TRANSPORT_OPTIONS["socket_timeout"]', 2.5),
    "DB_CONNECT_TIMEOUT": ("9", 'settings.DATABASES["default"]["OPTIONS"]["connect_timeout"]', 9),
    "DB_REPLICA_CONNECT_TIMEOUT": ("4", 'settings.DATABASES["replica"]["OPTIONS"]["connect_timeout"]', 4),
    "CONN_MAX_AGE": ("17", 'settings.DATABASES["default"]["CONN_MAX_AGE"]', 17),
    "REPLICA_STICKY_SECONDS": ("8.5", "settings.REPLICA_STICKY_SECONDS", 8.5),
    "REPLICA_RETRY_SECONDS": ("3.5", "settings.REPLICA_RETRY_SECONDS", 3.5),
    "CELERY_VISIBILITY_TIMEOUT": (
        "777",
        'settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]',
        777,
    ),
    "BROKER_RETRY_MAX_SECONDS": ("5.5", "settings.BROKER_RETRY_MAX_SECONDS", 5.5),
    "SUBSCRIBER_MAX_ATTEMPTS": ("9", "settings.SUBSCRIBER_MAX_ATTEMPTS", 9),
    "SUBSCRIBER_RETRY_BASE_SECONDS": ("0.25", "settings.SUBSCRIBER_RETRY_BASE_SECONDS", 0.25),
    "REBUILD_JOBS": ("3", "settings.REBUILD_JOBS", 3),
    "STREAM_RUNNER_PACED_GATHER_SECONDS": ("0.125", "settings.STREAM_RUNNER_PACED_GATHER_SECONDS", 0.125),
    "LINK_SCAN_MAX_ATTEMPTS": ("8", "policy.max_scan_attempts()", 8),
    "LINK_SCAN_RETRY_BASE_SECONDS": ("45", "settings.LINK_SCAN_RETRY_BASE_SECONDS", 45),
    "LINK_RESCAN_AFTER_SECONDS": ("600", "policy.rescan_after().total_seconds()", 600),
    "WORKER_PING_TIMEOUT_SECONDS": ("1.5", "settings.WORKER_PING_TIMEOUT_SECONDS", 1.5),
    "GUNICORN_TIMEOUT": ("61", 'gunicorn["timeout"]', 61),
    "GUNICORN_GRACEFUL_TIMEOUT": ("21", 'gunicorn["graceful_timeout"]', 21),
    "GUNICORN_MAX_REQUESTS": ("999", 'gunicorn["max_requests"]', 999),
}

READ_THEM = """
import json, runpy, sys
import django
django.setup()
from django.conf import settings
from auth_app import lockout, login_rate
from auth_app.throttles import RegisterRateThrottle
from links_app.services import policy
gunicorn = runpy.run_path("deploy/gunicorn.conf.py")
print(json.dumps({name: eval(where) for name, where in json.loads(sys.argv[1]).items()}))
"""


def test_each_limit_and_timeout_takes_its_value_from_the_environment():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "platform_site.settings.development",
        "DATABASE_REPLICA_URL": "postgres://postgres@127.0.0.1:5432/platform",
        **{name: value for name, (value, _, _) in LIMITS.items()},
    }
    wheres = {name: where for name, (_, where, _) in LIMITS.items()}
    result = subprocess.run(
        [sys.executable, "-c", READ_THEM, json.dumps(wheres)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    read = json.loads(result.stdout.strip().splitlines()[-1])
    assert read == {name: expected for name, (_, _, expected) in LIMITS.items()}


def test_docs_deploy_lists_every_limit_and_timeout_in_its_table():
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    section = deploy[deploy.index("## Rate limits and timeouts") :]
    listed = re.findall(r"^\| `([A-Z_]+)` \|", section, flags=re.MULTILINE)
    assert sorted(listed) == sorted(LIMITS)
