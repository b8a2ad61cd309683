"""A Redis primary, its replica and three Sentinels on free ports, for failover tests.

Started by the test that needs them and stopped after it; the machine's
shared Redis is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import redis

from .harness import free_port, wait_for
from .redis_servers import RedisProcesses

SERVICE = "platform"


@dataclass
class SentinelGroup(RedisProcesses):
    label: str = "sentinel-group"
    data_ports: list[int] = field(default_factory=lambda: [free_port(), free_port()])
    sentinel_ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(3)])

    @property
    def url(self) -> str:
        """The platform's REDIS_URL for this group."""
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"sentinel://{hosts}/{SERVICE}/0"

    def start(self) -> None:
        primary, replica = self.data_ports
        self.start_server(primary)
        self.start_server(replica, "--replicaof", "127.0.0.1", str(primary))
        for port in self.sentinel_ports:
            config = self.folder / f"sentinel-{port}.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.folder}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {primary} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                f"sentinel failover-timeout {SERVICE} 10000\n"
            )
            self.spawn(port, ["redis-server", str(config), "--sentinel"])
        wait_for(self._settled, timeout=30, message="the Sentinels to find the replica and each other")

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
