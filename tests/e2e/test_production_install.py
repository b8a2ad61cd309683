"""A production install, as an operator makes one: requirements.txt alone, production settings.

The source tree is copied to a temporary directory (without the development
venv, .env, static files or artifacts), given a fresh venv holding only
`pip install -r requirements.txt` (what deploy/Dockerfile installs), static
files are collected and migrations run as the image and the migrate service do,
and then `honcho start -f Procfile.prod` starts gunicorn, a Celery worker, the
stream runner and beat exactly as that file says. A post with a dangerous link
must get flagged through all of them, and the worker must answer
`celery inspect ping`. How long the install took goes to
test-artifacts/production-install.json.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from tests.db_sessions import open_session
from tests.integration.security.production_env import production_env

from .harness import ARTIFACTS, ROOT, Process, free_port, wait_for
from .test_flows import flagged, post_with_link

# What a clean clone has, less what only a developer's checkout holds.
NOT_SHIPPED = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".env",
    "test-artifacts",
    "staticfiles",
    "__pycache__",
    "*.pyc",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
)


@pytest.fixture(scope="module")
def production_install(tmp_path_factory):
    """The tree in a directory of its own with `.venv` from requirements.txt alone."""
    app = tmp_path_factory.mktemp("production-install") / "app"
    shutil.copytree(ROOT, app, ignore=NOT_SHIPPED)
    started = time.monotonic()
    # The interpreter the development venv was made from: a bare Python, no packages.
    subprocess.run([sys._base_executable, "-m", "venv", str(app / ".venv")], check=True, timeout=300)
    installed = subprocess.run(
        [
            str(app / ".venv/bin/pip"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            "requirements.txt",
        ],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    seconds = time.monotonic() - started
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "production-install.json").write_text(
        json.dumps({"venv_and_install_seconds": round(seconds, 1)})
    )
    print(f"fresh venv + pip install -r requirements.txt: {seconds:.1f} s")
    return app


@pytest.fixture
def production_database():
    """A database of its own: production keys seal what it records, which the test database's key could not open."""
    name = f"{connection.settings_dict['NAME']}_production"[:63]
    with open_session(dbname="postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    yield name
    with open_session(dbname="postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def production_environment(platform, app: Path, database: str) -> dict[str, str]:
    settings = connection.settings_dict
    # No PYTHONPATH or settings of the developer's shell: only what a production host sets.
    env = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG", "TMPDIR"}}
    env.update(
        production_env(),
        DJANGO_SETTINGS_MODULE="platform_site.settings.production",
        DATABASE_URL=(
            f"postgres://{settings['USER'] or 'postgres'}@{settings['HOST'] or '127.0.0.1'}:"
            f"{settings['PORT'] or 5432}/{database}"
        ),
        REDIS_URL=platform.redis_url,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        # No TLS proxy in front in this test: plain HTTP on the loopback.
        SECURE_SSL_REDIRECT="false",
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="4",
        WORKER_CONCURRENCY="2",
        CELERY_BEAT_SCHEDULE=str(app / "celerybeat-schedule"),
        PYTHONUNBUFFERED="1",
    )
    return env


def run_in(app: Path, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(app / ".venv/bin" / argv[0]), *argv[1:]],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def start_procfile(platform, app: Path, env: dict[str, str], web_port: int) -> Process:
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / f"{platform.name}-honcho.log"
    popen = subprocess.Popen(
        [
            str(app / ".venv/bin/honcho"),
            *("start", "--no-colour", "-f", "Procfile.prod", "-p", str(web_port)),
            # The long-running processes; `release` (migrate, roles) is a deploy step, run above.
            *("web", "worker", "streams", "beat"),
        ],
        cwd=app,
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process = Process("honcho", popen, log_path)
    platform.processes.append(process)  # stopped (SIGTERM to the group) with the platform
    return process


def test_a_requirements_only_install_runs_every_process_of_procfile_prod(
    platform, accounts, production_install, production_database
):
    app = production_install
    web_port = free_port()  # honcho gives the first line, web, this PORT
    env = production_environment(platform, app, production_database)

    collected = run_in(app, env, "python", "manage.py", "collectstatic", "--no-input", "--verbosity", "0")
    assert collected.returncode == 0, collected.stderr
    migrated = run_in(app, env, "python", "manage.py", "migrate", "--no-input")
    assert migrated.returncode == 0, migrated.stderr

    honcho = start_procfile(platform, app, env, web_port)
    platform.web_ports.append(web_port)
    wait_for(lambda: platform._answers(web_port), timeout=60, message="gunicorn from Procfile.prod")
    # honcho stops every process once one of them exits: a crash at start ends it all.
    wait_for(lambda: "ready." in honcho.log() or not honcho.alive(), timeout=60, message="the worker")
    assert honcho.alive(), honcho.log()[-3000:]

    status, health, _ = platform.request("GET", "/health/")
    assert status == 200, health
    member = accounts.member(f"prod{uuid.uuid4().hex[:6]}")
    post = post_with_link(platform, member, uuid.uuid4())
    wait_for(lambda: flagged(platform, post["id"]), timeout=90, message="the post to be flagged")

    pong = run_in(app, env, "celery", "-A", "platform_site", "inspect", "ping", "--timeout", "5")
    assert pong.returncode == 0, pong.stdout + pong.stderr
    assert "pong" in pong.stdout

    # Every line of Procfile.prod is still running, and none of them logged a traceback.
    log = honcho.log()
    for name in ("web.1", "worker.1", "streams.1", "beat.1"):
        assert f"{name} started" in log, log[-3000:]
        assert f"{name} stopped" not in log, log[-3000:]
    assert "Traceback" not in log, log[-5000:]
