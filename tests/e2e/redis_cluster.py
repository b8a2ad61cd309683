"""A Redis Cluster of three primaries on free ports, for the cluster tests.

Started by the tests that need it and stopped after them; the machine's
shared Redis is never touched. No replicas: the tests check where keys live
and that the flows run, not a primary's failover (Sentinel's tests do that).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.cluster import ClusterNode, RedisCluster

from .harness import ARTIFACTS, free_port, wait_for

BUS_OFFSET = 10_000  # a node also listens on its port + 10000 for the other nodes


def free_node_port() -> int:
    """A free port whose cluster bus port (port + 10000) is valid and free too."""
    while True:
        port = free_port()
        if port + BUS_OFFSET > 65_535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + BUS_OFFSET))
            except OSError:
                continue
        return port


@dataclass
class LocalCluster:
    size: int = 3
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="platform-cluster-")))
    ports: list[int] = field(default_factory=list)
    processes: dict[int, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The platform's REDIS_URL for this cluster (every node named; one would do)."""
        return "redis-cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def start(self) -> None:
        self.ports = [free_node_port() for _ in range(self.size)]
        for port in self.ports:
            self._start_node(port)
        result = subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{port}" for port in self.ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        wait_for(self._settled, timeout=30, message="every node to see the cluster as ok")

    def _start_node(self, port: int) -> None:
        node_folder = self.folder / str(port)
        node_folder.mkdir()
        ARTIFACTS.mkdir(exist_ok=True)
        log = (ARTIFACTS / f"cluster-node-{port}.log").open("w")
        self.processes[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--dir", str(node_folder)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for(lambda: self._ping(port), timeout=15, message=f"cluster node on {port}")

    @staticmethod
    def _ping(port: int) -> bool:
        try:
            return redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=1).ping()
        except redis.RedisError:
            return False

    def _settled(self) -> bool:
        try:
            return all(
                redis.Redis(port=port, socket_timeout=2).cluster("info")["cluster_state"] == "ok"
                for port in self.ports
            )
        except redis.RedisError:
            return False

    def client(self) -> RedisCluster:
        return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", port) for port in self.ports])

    def owner(self, key: str) -> int:
        """The port of the primary that holds `key`."""
        client = self.client()
        try:
            return client.get_node_from_key(key).port
        finally:
            client.close()

    def stop(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait(10)
