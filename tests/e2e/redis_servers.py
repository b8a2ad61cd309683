"""Private redis-server processes on free ports, for the tests that stop, kill or reconfigure Redis.

Each process logs to test-artifacts/<label>-<port>.log, keeps no data on disk
and is killed when the test is done; the machine's shared Redis is never
touched. The Sentinel group and the local cluster are built on it.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import redis

from .harness import ARTIFACTS, wait_for
from .redis_tls import TlsFiles


@dataclass
class RedisProcesses:
    label: str = "redis"
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="platform-redis-")))
    processes: dict[int, subprocess.Popen] = field(default_factory=dict)
    tls: TlsFiles | None = None  # servers then listen with TLS only, with these certificates

    def spawn(self, port: int, argv: list[str]) -> None:
        """Run `argv` (a redis-server or a Sentinel listening on `port`) in the background."""
        ARTIFACTS.mkdir(exist_ok=True)
        log = (ARTIFACTS / f"{self.label}-{port}.log").open("w")
        self.processes[port] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def start_server(self, port: int, *extra: str, folder: Path | None = None) -> None:
        """A redis-server on `port` (without persistence), once it answers PING."""
        listen = ["--port", str(port)]
        if self.tls is not None:
            listen = ["--port", "0", "--tls-port", str(port), *self.tls.server_arguments(),
                      "--tls-replication", "yes", "--tls-cluster", "yes"]  # fmt: skip
        self.spawn(
            port,
            ["redis-server", *listen, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(folder or self.folder), *extra],
        )  # fmt: skip
        wait_for(lambda: self.answers(port) or self._exited(port), timeout=15, message=f"Redis on {port}")
        if self._exited(port):
            log = (ARTIFACTS / f"{self.label}-{port}.log").read_text(errors="replace")
            raise AssertionError(f"Redis on {port} exited at start:\n{log[-2000:]}")

    def _exited(self, port: int) -> bool:
        return self.processes[port].poll() is not None

    def answers(self, port: int) -> bool:
        try:
            return self.node(port, socket_connect_timeout=0.5, socket_timeout=1).ping()
        except redis.RedisError:
            return False

    def node(self, port: int, **options) -> redis.Redis:
        """A client of the one server on `port`."""
        return redis.Redis(
            port=port, **{"socket_connect_timeout": 1, "socket_timeout": 2, **self.client_tls(), **options}
        )

    def client_tls(self) -> dict:
        """redis-py's options for a client of these servers (none without TLS)."""
        if self.tls is None:
            return {}
        return {"ssl": True, "ssl_ca_certs": str(self.tls.ca_cert), "ssl_cert_reqs": "required"}

    def cli_tls(self) -> list[str]:
        """redis-cli's options for these servers."""
        return [] if self.tls is None else ["--tls", "--cacert", str(self.tls.ca_cert)]

    def running(self, port: int) -> bool:
        return self.processes[port].poll() is None

    def kill(self, port: int) -> None:
        """SIGKILL: whatever the server had not written anywhere is gone."""
        self.processes[port].kill()
        self.processes[port].wait(10)

    def stop(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait(10)
