"""Check that Postgres and Redis answer before starting anything; create the database.

Run by `make run` and `make test`. Says which service is down and how to start
it, instead of letting Django or Celery fail later with a stack trace.
"""

from __future__ import annotations

import os
import sys

import environ
import psycopg
import redis
from psycopg import sql

START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
    "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


def check_postgres(url: str) -> str | None:
    config = environ.Env.db_url_config(url)
    target = config["NAME"]
    params = {
        "host": config.get("HOST") or "127.0.0.1",
        "port": config.get("PORT") or 5432,
        "user": config.get("USER") or "postgres",
        "password": config.get("PASSWORD") or None,
        "connect_timeout": 3,
    }
    try:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [target]).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target)))
                print(f"created database {target}")
    except psycopg.OperationalError as exc:
        return (
            f"PostgreSQL is not reachable at {params['host']}:{params['port']} ({exc}).\n"
            f"  Start it with: {START_POSTGRES}"
        )
    return None


def check_redis(url: str) -> str | None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except (redis.RedisError, OSError) as exc:
        return f"Redis is not reachable at {url} ({exc}).\n  Start it with: {START_REDIS}"
    return None


def main() -> int:
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/platform")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    problems = [p for p in (check_postgres(database_url), check_redis(redis_url)) if p]
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    if not problems:
        print("PostgreSQL and Redis are reachable.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
