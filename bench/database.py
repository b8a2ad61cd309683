"""A fresh benchmark database and Redis db for every run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import redis

ROOT = Path(__file__).resolve().parents[1]
DATABASE_URL = "postgres://postgres@127.0.0.1:5432/platform_bench"
REDIS_URL = "redis://127.0.0.1:6379/12"


def bench_environment() -> dict[str, str]:
    """The environment every bench process runs with (inherited by workers and servers)."""
    env = {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", DATABASE_URL),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", REDIS_URL),
        "DEBUG": "False",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    env["CELERY_BROKER_URL"] = env["REDIS_URL"]
    return env


def connect_params() -> dict:
    """psycopg connection parameters of the bench database."""
    url = urlparse(bench_environment()["DATABASE_URL"])
    return {
        "host": url.hostname,
        "port": url.port or 5432,
        "user": url.username or "postgres",
        "dbname": url.path.lstrip("/"),
    }


def recreate() -> None:
    """Drop and create the bench database, then migrate it."""
    params = connect_params()
    name = params["dbname"]
    if not name.endswith("bench"):
        raise SystemExit(f"refusing to drop {name!r}: the bench database name must end in 'bench'")
    with psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "--verbosity", "0"],
        cwd=ROOT,
        env={**os.environ, **bench_environment()},
        check=True,
    )


def analyze() -> None:
    """ANALYZE the whole benchmark database (what autovacuum does on a live system)."""
    with psycopg.connect(**connect_params(), autocommit=True) as conn:
        conn.execute("ANALYZE")


def flush_redis() -> None:
    redis.Redis.from_url(bench_environment()["REDIS_URL"]).flushdb()


def server_versions() -> tuple[str, str]:
    with psycopg.connect(**connect_params()) as conn:
        postgres = conn.execute("SHOW server_version").fetchone()[0]
    info = redis.Redis.from_url(bench_environment()["REDIS_URL"]).info("server")
    return postgres, info["redis_version"]
