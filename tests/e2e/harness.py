"""Real processes for end-to-end tests: a private Redis, web servers, Celery workers, beat.

Everything runs against the test database of the pytest session (its name
comes from the live connection) and a Redis server started on a free port, so
tests may stop, flush or kill these without touching the machine's shared
services. Output of every process goes to a file under test-artifacts/.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
VENV_BIN = Path(sys.executable).parent


def _ephemeral_ports_start() -> int:
    """The lowest port the kernel hands to outgoing connections (and to bind() on port 0)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


# Servers started by the tests listen on ports below the ephemeral range: a port
# taken there by bind(0) and let go could be some outgoing connection's source
# port by the time the server binds it (a Redis that never came up, "Address
# already in use"). No port is handed out twice in one session.
_EPHEMERAL_START = _ephemeral_ports_start()
_PORTS_FROM = 15_000
_handed_out: set[int] = set()


def free_port(*, with_offset: int | None = None) -> int:
    """A free port on 127.0.0.1 for a server a test starts; `with_offset`: port + offset free too."""
    offsets = (0,) if with_offset is None else (0, with_offset)
    highest = _EPHEMERAL_START - 1 - max(offsets)
    assert highest > _PORTS_FROM, f"no room below the ephemeral ports ({_EPHEMERAL_START})"
    while True:
        port = random.randint(_PORTS_FROM, highest)
        wanted = [port + offset for offset in offsets]
        if not any(each in _handed_out for each in wanted) and all(map(_bindable, wanted)):
            _handed_out.update(wanted)
            return port


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for(
    condition, *, timeout: float = 30.0, interval: float = 0.1, message: str = "condition", diagnose=None
):
    """Poll `condition` until it returns a truthy value; fail with `message` after `timeout`.

    `diagnose`, if given, is called on failure: what it returns (the state the
    condition waited on) goes into the failure message.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            found = f" ({diagnose()})" if diagnose is not None else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {message}{found}")
        time.sleep(interval)


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path
    prints_stacks_on_sigusr1: bool = False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: no chance to clean up (a crash)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def terminate(self, timeout: float = 30.0) -> None:
        """SIGTERM (a graceful stop), then SIGKILL if it does not end in time."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class Platform:
    """A running platform made of real processes, for one test."""

    database_name: str
    name: str
    redis_port: int = field(default_factory=free_port)
    processes: list[Process] = field(default_factory=list)
    web_ports: list[int] = field(default_factory=list)
    # Another server than the test database's (a private cluster), and settings of the test's own.
    database_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def env(self) -> dict[str, str]:
        from django.db import connection

        settings = connection.settings_dict
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="platform_site.settings.test",
            DATABASE_URL=self.database_url
            or (
                f"postgres://{settings['USER'] or 'postgres'}@{settings['HOST'] or '127.0.0.1'}:"
                f"{settings['PORT'] or 5432}/{self.database_name}"
            ),
            TEST_REDIS_URL=self.redis_url,
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def manage(self, *arguments: str) -> str:
        """Run one management command against this platform's database; return its output."""
        result = subprocess.run(
            [str(VENV_BIN / "python"), "manage.py", *arguments],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def _spawn(self, name: str, argv: list[str]) -> Process:
        ARTIFACTS.mkdir(exist_ok=True)
        log_path = ARTIFACTS / f"{self.name}-{name}.log"
        log = log_path.open("w")
        popen = subprocess.Popen(
            argv, cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        process = Process(name, popen, log_path)
        self.processes.append(process)
        return process

    # --- Redis -------------------------------------------------------------
    def start_redis(self) -> Process:
        process = self._spawn(
            f"redis-{len(self.processes)}",
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        )
        wait_for(lambda: self.redis_ping() or not process.alive(), timeout=15, message="the private Redis")
        assert process.alive(), f"the private Redis exited at start:\n{process.log()[-2000:]}"
        return process

    def redis_ping(self) -> bool:
        import redis

        try:
            return redis.Redis(port=self.redis_port, socket_connect_timeout=0.5).ping()
        except redis.RedisError:
            return False

    def redis(self):
        import redis

        return redis.Redis(port=self.redis_port, socket_connect_timeout=1, socket_timeout=2)

    def stop_redis(self) -> None:
        for process in self.processes:
            if process.name.startswith("redis") and process.alive():
                process.terminate(10)

    # --- Django and Celery -------------------------------------------------
    def start_web(self) -> int:
        port = free_port()
        self._spawn(
            f"web-{port}",
            [
                str(VENV_BIN / "gunicorn"),
                "platform_site.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--timeout",
                "60",
            ],
        )
        self.web_ports.append(port)
        wait_for(lambda: self._answers(port), timeout=30, message=f"web on port {port}")
        return port

    def _answers(self, port: int) -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=2)
            return True
        except urllib.error.HTTPError:
            return True  # 503 is an answer
        except OSError:
            return False

    def start_worker(self, name: str, concurrency: int = 2, loglevel: str = "INFO") -> Process:
        process = self._spawn(
            f"worker-{name}",
            [
                str(VENV_BIN / "celery"),
                "-A",
                "platform_site",
                "worker",
                "-n",
                f"{name}@%h",
                "--concurrency",
                str(concurrency),
                "--loglevel",
                loglevel,
                "--without-gossip",
                "--without-mingle",
            ],
        )
        wait_for(lambda: "ready." in process.log(), timeout=60, message=f"worker {name}")
        return process

    def start_streams(self, name: str = "streams") -> Process:
        """`manage.py run_event_streams`: the relay and subscribers woken by commits."""
        process = self._spawn(
            name, [str(VENV_BIN / "python"), "manage.py", "run_event_streams", "--poll-seconds", "1"]
        )
        process.prints_stacks_on_sigusr1 = True
        wait_for(lambda: "Ctrl-C to stop" in process.log(), timeout=60, message=f"{name} runner")
        return process

    def start_beat(self) -> Process:
        schedule = ARTIFACTS / f"{self.name}-beat-schedule"
        return self._spawn(
            "beat",
            [
                str(VENV_BIN / "celery"),
                "-A",
                "platform_site",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(schedule),
            ],
        )

    def start_manage(self, name: str, *arguments: str) -> Process:
        """A management command as a process of its own (e.g. `simulate`), not waited for."""
        return self._spawn(name, [str(VENV_BIN / "python"), "manage.py", *arguments])

    def print_stacks(self) -> None:
        """Have every stream runner still running print its threads' stacks to its log (after a failure)."""
        asked = [each for each in self.processes if each.prints_stacks_on_sigusr1 and each.alive()]
        for process in asked:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.popen.pid, signal.SIGUSR1)
        if asked:
            time.sleep(0.5)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.alive():
                process.terminate(15)

    # --- HTTP --------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        *,
        token: str | None = None,
        headers: dict | None = None,
        port: int | None = None,
    ) -> tuple[int, dict, dict]:
        """Send one HTTP request; return (status, json body or {}, response headers)."""
        port = port or self.web_ports[0]
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Token {token}")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                raw = response.read()
                return response.status, json.loads(raw) if raw else {}, dict(response.headers)
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                payload = json.loads(raw) if raw else {}
            except ValueError:
                payload = {"raw": raw.decode(errors="replace")[:2000]}
            return error.code, payload, dict(error.headers)
