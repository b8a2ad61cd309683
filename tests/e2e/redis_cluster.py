"""A Redis Cluster of three primaries (and, if asked, a replica each) on free ports.

Started by the tests that need it and stopped after them; the machine's
shared Redis is never touched.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field

import redis
from redis.cluster import ClusterNode, RedisCluster

from .harness import free_port, wait_for
from .redis_servers import RedisProcesses

BUS_OFFSET = 10_000  # a node also listens on its port + 10000 for the other nodes


def free_node_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    return free_port(with_offset=BUS_OFFSET)


@dataclass
class LocalCluster(RedisProcesses):
    label: str = "cluster-node"
    primaries: int = 3
    replicas: int = 0  # per primary
    # How long a primary may be unreachable before the others fail it over (Redis's default: 15 s).
    node_timeout_ms: int = 1000
    # Whether the cluster refuses every command while some slot has no live primary (Redis's default).
    full_coverage: bool = True
    ports: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The platform's REDIS_URL for this cluster (every node named; one would do)."""
        nodes = ",".join(f"127.0.0.1:{port}" for port in self.ports)
        if self.tls is None:
            return f"redis-cluster://{nodes}"
        return f"rediss-cluster://{nodes}?ssl_ca_certs={self.tls.ca_cert}&ssl_cert_reqs=required"

    @property
    def size(self) -> int:
        return len(self.ports)

    def start(self) -> None:
        self.ports = [free_node_port() for _ in range(self.primaries * (1 + self.replicas))]
        for port in self.ports:
            self._start_node(port)
        result = subprocess.run(
            ["redis-cli", *self.cli_tls(), "--cluster", "create", *(f"127.0.0.1:{port}" for port in self.ports),
             "--cluster-replicas", str(self.replicas), "--cluster-yes"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        wait_for(self._settled, timeout=30, message="every node to see the cluster as ok")

    def _start_node(self, port: int) -> None:
        node_folder = self.folder / str(port)
        node_folder.mkdir(exist_ok=True)  # a restarted node finds its nodes.conf: the same node, empty
        self.start_server(
            port,
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(self.node_timeout_ms),
            "--cluster-require-full-coverage", "yes" if self.full_coverage else "no",
            folder=node_folder,
        )  # fmt: skip

    def _settled(self) -> bool:
        try:
            return all(
                self._node(port).cluster("info")["cluster_state"] == "ok"
                and len(self.primary_ports(port)) == self.primaries
                for port in self.ports
            )
        except redis.RedisError:
            return False

    def _node(self, port: int) -> redis.Redis:
        return self.node(port)

    def primary_ports(self, asking: int | None = None) -> set[int]:
        """The primaries that serve slots, as a live node (`asking`, else any) sees them."""
        ports = [asking] if asking else [port for port in self.ports if self.running(port)]
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
        return RedisCluster(
            startup_nodes=[ClusterNode("127.0.0.1", port) for port in self.ports], **self.client_tls()
        )

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
            if port in primaries or not self.running(port):
                continue
            info = self._node(port).info("replication")
            if info.get("master_link_status") != "up":
                return False
            primary = self._node(int(info["master_port"])).info("replication")
            if info["slave_repl_offset"] != primary["master_repl_offset"]:
                return False
        return True

    def restart(self, port: int) -> None:
        """Start the killed node on `port` again: it takes back its slots, without the data it had."""
        self._start_node(port)
        wait_for(self._settled, timeout=30, message="every node to see the cluster as ok again")

    def forget(self, port: int) -> None:
        """Every live node forgets the (dead) node on `port`: its slots are then served by no one."""
        gone = self._node_id(port)
        for other in self.ports:
            if other != port and self.running(other):
                self._node(other).execute_command("CLUSTER", "FORGET", gone)

    def _node_id(self, port: int) -> str:
        for other in self.ports:
            if other != port and self.running(other):
                for address, node in self._node(other).cluster("nodes").items():
                    if int(address.split("@")[0].rsplit(":", 1)[1]) == port:
                        return node["node_id"]
        raise AssertionError(f"no live node knows the node on {port}")
