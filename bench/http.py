"""(24.5) The HTTP API under load, against a plain-Django control: gunicorn serving, wrk generating.

16 connections, a token each (and a post of its own to vote on per endpoint).
wrk (C, event loop) costs far less CPU than a Python load generator, which
matters when client, server and Postgres share 2 cores. The Celery worker is
not running here: the figure is the request path itself (after-commit wake-ups
of the relay still go to Redis, as in production).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from .services import VENV_BIN, start, stop

CLIENTS = 16
GUNICORN_WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", "4"))
WRK_DIR = Path(__file__).resolve().parent / "wrk"
PLATFORM_POSTS, CONTROL_POSTS = "/api/posts/", "/bench/control/posts/"
# Each endpoint back to back with its plain-Django control (bench/benchapp/control.py):
# the same middleware, token authentication, throttle, serializers and tables, the rows
# written directly instead of through events.
ENDPOINTS = {
    "http_post": ("POST /api/posts/", "create_post.lua", PLATFORM_POSTS),
    "http_control_post": ("POST control (plain Django)", "create_post.lua", CONTROL_POSTS),
    "http_vote": ("POST /api/posts/{id}/vote/", "vote.lua", PLATFORM_POSTS),
    "http_control_vote": ("POST control vote (plain Django)", "vote.lua", CONTROL_POSTS),
}


def make_clients(path: Path) -> None:
    """16 users, each with a knox token and two posts (by the next user) to vote on: one per endpoint."""
    from django.db import connection

    from auth_app.services import user_login, user_register
    from community_app.services import post_create

    stamp = int(time.time())
    users, tokens = [], []
    for i in range(CLIENTS):
        username = f"bench{stamp}x{i}"
        password = secrets.token_urlsafe(16)
        user = user_register(username=username, email=f"{username}@bench.example", password=password)
        tokens.append(
            user_login(username=username, password=password, ip="127.0.0.1", user_agent="bench").token
        )
        users.append(user)
    posts, control_posts = (
        [
            post_create(author=user, title=f"Vote here {i}", body="A post to vote on.")
            for i, user in enumerate(users)
        ]
        for _ in range(2)
    )
    lines = [
        f"{tokens[i]} {posts[(i + 1) % CLIENTS].id} {control_posts[(i + 1) % CLIENTS].id}"
        for i in range(CLIENTS)
    ]
    path.write_text("\n".join(lines) + "\n")
    connection.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback only)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer {url}")


def run_wrk(
    port: int, script: str, seconds: float, clients_file: Path, posts_path: str = PLATFORM_POSTS
) -> dict:
    done = subprocess.run(
        [
            "wrk",
            f"-t{CLIENTS}",
            f"-c{CLIENTS}",
            f"-d{seconds:.0f}s",
            "--timeout",
            "10s",
            "-s",
            str(WRK_DIR / script),
            f"http://127.0.0.1:{port}",
        ],
        env={
            **os.environ,
            "BENCH_CLIENTS_FILE": str(clients_file),
            "BENCH_WRK_DIR": str(WRK_DIR),
            "BENCH_POSTS_PATH": posts_path,
        },
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(collector, *, reps: int, seconds: float, results_dir: Path) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk (bench/run.sh does it)")
    clients_file = results_dir / "http-clients.txt"
    make_clients(clients_file)
    port = _free_port()
    server = start(
        [
            str(VENV_BIN / "gunicorn"),
            "platform_site.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(GUNICORN_WORKERS),
        ],
        results_dir / "gunicorn.log",
    )
    conditions = f"{CLIENTS} connections (wrk), gunicorn --workers {GUNICORN_WORKERS} (sync), {seconds:.0f} s"
    try:
        _wait_for(f"http://127.0.0.1:{port}/api/posts/")
        for _ in range(reps):
            for key, (label, script, posts_path) in ENDPOINTS.items():
                result = run_wrk(port, script, seconds, clients_file, posts_path)
                if result["status_errors"] or result["socket_errors"]:
                    print(
                        f"  warning: {label}: {result['status_errors']} non-2xx, {result['socket_errors']} socket errors"
                    )
                rate = result["requests"] / (result["duration_us"] / 1e6)
                collector.add(f"{key}_rate", f"{label} throughput", conditions, "requests/s", rate)
                collector.add(
                    f"{key}_p99",
                    f"{label} latency p99",
                    conditions,
                    "ms",
                    result["p99_us"] / 1000,
                    higher=False,
                )
    finally:
        stop(server)
