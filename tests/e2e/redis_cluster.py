"""A Redis Cluster of three primaries (and, if asked, a replica each) on free ports.

Started by the tests that need it and stopped after them; the machine's
shared Redis is never touched.
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
    primaries: int = 3
    replicas: int = 0  # per primary
    # How long a primary may be unreachable before the others fail it over (Redis's default: 15 s).
    node_timeout_ms: int = 1000
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="platform-cluster-")))
    ports: list[int] = field(default_factory=list)
    processes: dict[int, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The platform's REDIS_URL for this cluster (every node named; one would do)."""
        return "redis-cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    @property
    def size(self) -> int:
        return len(self.ports)

    def start(self) -> None:
        self.ports = [free_node_port() for _ in range(self.primaries * (1 + self.replicas))]
        for port in self.ports:
            self._start_node(port)
        result = subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{port}" for port in self.ports),
             "--cluster-replicas", str(self.replicas), "--cluster-yes"],
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
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--dir", str(node_folder),
             "--cluster-node-timeout", str(self.node_timeout_ms)],
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
                self._node(port).cluster("info")["cluster_state"] == "ok"
                and len(self.primary_ports(port)) == self.primaries
                for port in self.ports
            )
        except redis.RedisError:
            return False

    @staticmethod
    def _node(port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_connect_timeout=1, socket_timeout=2)

    def primary_ports(self, asking: int | None = None) -> set[int]:
        """The primaries that serve slots, as a live node (`asking`, else any) sees them."""
        ports = [asking] if asking else [port for port in self.ports if self.processes[port].poll() is None]
        for port in ports:
            try:
                nodes = self._node(port).cluster("nodes")
            except redis.RedisError:
                continue
            return {
                int(address.split("@")[0].rsplit(":", 1)[1])
                for address, node in nodes.items()
                if "master" in node["flags"] and "fail" not in node["flags"] and node["slots"]
            }
        return set()

    def client(self) -> RedisCluster:
        return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", port) for port in self.ports])

    def owner(self, key: str) -> int:
        """The port of the primary that holds `key`."""
        client = self.client()
        try:
            return client.get_node_from_key(key).port
        finally:
            client.close()

    def replicas_in_sync(self) -> bool:
        """Every replica is linked to its primary and has every byte it wrote."""
        primaries = self.primary_ports()
        for port in self.ports:
            if port in primaries or self.processes[port].poll() is not None:
                continue
            info = self._node(port).info("replication")
            if info.get("master_link_status") != "up":
                return False
            primary = self._node(int(info["master_port"])).info("replication")
            if info["slave_repl_offset"] != primary["master_repl_offset"]:
                return False
        return True

    def kill(self, port: int) -> None:
        self.processes[port].kill()
        self.processes[port].wait(10)

    def stop(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait(10)
