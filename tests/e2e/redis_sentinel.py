"""A Redis primary, its replica and three Sentinels on free ports, for failover tests.

Started by the test that needs them and stopped after it; the machine's
shared Redis is never touched.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import redis

from .harness import ARTIFACTS, free_port, wait_for

SERVICE = "platform"


@dataclass
class SentinelGroup:
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="platform-sentinel-")))
    data_ports: list[int] = field(default_factory=lambda: [free_port(), free_port()])
    sentinel_ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(3)])
    processes: dict[int, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The platform's REDIS_URL for this group."""
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"sentinel://{hosts}/{SERVICE}/0"

    def start(self) -> None:
        primary, replica = self.data_ports
        self._start_server(primary)
        self._start_server(replica, "--replicaof", "127.0.0.1", str(primary))
        for port in self.sentinel_ports:
            config = self.folder / f"sentinel-{port}.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.folder}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {primary} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                f"sentinel failover-timeout {SERVICE} 10000\n"
            )
            self._spawn(port, ["redis-server", str(config), "--sentinel"])
        wait_for(self._settled, timeout=30, message="the Sentinels to find the replica and each other")

    def _start_server(self, port: int, *extra: str) -> None:
        self._spawn(
            port,
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder), *extra],
        )  # fmt: skip
        wait_for(lambda: self._ping(port), timeout=15, message=f"Redis on {port}")

    def _spawn(self, port: int, argv: list[str]) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        log = (ARTIFACTS / f"sentinel-group-{port}.log").open("w")
        self.processes[port] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    @staticmethod
    def _ping(port: int) -> bool:
        try:
            return redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=1).ping()
        except redis.RedisError:
            return False

    def sentinel(self, index: int = 0) -> redis.Redis:
        return redis.Redis(port=self.sentinel_ports[index], socket_timeout=2, decode_responses=True)

    def _settled(self) -> bool:
        try:
            return all(
                self.sentinel(i).sentinel_slaves(SERVICE)
                and len(self.sentinel(i).sentinel_sentinels(SERVICE)) == 2
                for i in range(len(self.sentinel_ports))
            )
        except redis.RedisError:
            return False

    def primary_port(self) -> int:
        return int(self.sentinel().sentinel_get_master_addr_by_name(SERVICE)[1])

    def replica_in_sync(self) -> bool:
        """The current primary's replica is connected and has every byte the primary wrote."""
        info = redis.Redis(port=self.primary_port(), socket_timeout=2).info("replication")
        replica = info.get("slave0")
        return (
            bool(replica) and replica["state"] == "online" and replica["offset"] == info["master_repl_offset"]
        )

    def failover(self) -> tuple[int, int]:
        """SENTINEL FAILOVER: the replica becomes the primary. Returns the (old, new) primaries' ports."""
        old = self.primary_port()
        self.sentinel().execute_command("SENTINEL", "FAILOVER", SERVICE)
        new = wait_for(lambda: (port := self.primary_port()) != old and port, timeout=30, message="failover")
        return old, new

    def role(self, port: int) -> str:
        return redis.Redis(port=port, socket_timeout=2).info("replication")["role"]

    def kill(self, port: int) -> None:
        self.processes[port].kill()
        self.processes[port].wait(10)

    def stop(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait(10)
