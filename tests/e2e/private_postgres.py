"""A private PostgreSQL cluster for tests that stop, restart or replicate a server.

`initdb` into a temporary folder, served on a free port, as the `postgres`
user (the server refuses to run as root); the machine's shared server is never
touched. `standby()` makes a streaming replica of it with pg_basebackup.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .harness import free_port

BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(command: str) -> subprocess.CompletedProcess:
    argv = (
        ["bash", "-c", command] if os.geteuid() != 0 else ["su", "postgres", "-s", "/bin/bash", "-c", command]
    )
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120)


@dataclass
class PrivateCluster:
    data_dir: Path
    port: int

    @classmethod
    def create(cls, parent: Path) -> PrivateCluster:
        cluster = cls(parent / f"pg-{free_port()}", free_port())
        _as_postgres(f"{BIN}/initdb -D {cluster.data_dir} -U postgres -A trust --no-sync -E UTF8 >/dev/null")
        return cluster

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data_dir} -c fsync=off"
        _as_postgres(
            f"{BIN}/pg_ctl -D {self.data_dir} -l {self.log_path} -w -t 60 -o {shlex.quote(options)} start"
        )

    def stop(self, mode: str = "fast") -> None:
        _as_postgres(f"{BIN}/pg_ctl -D {self.data_dir} -m {mode} -w -t 60 stop")

    def running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def sql(self, statement: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-tAc",
                statement,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return result.stdout.strip()

    def standby(self) -> PrivateCluster:
        """A streaming replica of this (running) cluster, not yet started."""
        replica = PrivateCluster(self.data_dir.parent / f"pg-{free_port()}", free_port())
        _as_postgres(
            f"{BIN}/pg_basebackup -h 127.0.0.1 -p {self.port} -U postgres -D {replica.data_dir} -R -X stream -c fast"
        )
        return replica


def temporary_parent() -> Path:
    """A folder the postgres user owns, for clusters' data and logs."""
    parent = Path(tempfile.mkdtemp(prefix="platform-pg-"))
    if os.geteuid() == 0:
        shutil.chown(parent, "postgres", "postgres")
    return parent
