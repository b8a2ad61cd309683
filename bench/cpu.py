"""CPU time by process group, read from /proc (Linux), for figure (24.6).

A group is a set of processes whose user + system time is summed, with the
time of their children that have exited and been waited for (`cutime`,
`cstime`), so a worker's pool child that exits between two readings still
counts. Postgres backends are found by database name in pg_stat_activity;
the time of a backend that ended between two readings is lost, and the
readings say how many did.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def process_seconds(pid: int) -> float | None:
    """User + system CPU seconds of `pid` and of its waited-for children; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The command name may hold spaces and parentheses: the fields follow its last ')'.
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # Fields 14-17 of proc(5) (utime, stime, cutime, cstime), counted from the state at index 0 here.
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime + cutime + cstime) / TICKS_PER_SECOND


def session_members(leader: int) -> list[int]:
    """Every process of the session `leader` started (bench.services.start gives each its own)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[3]) == leader:  # the session id
            members.append(int(entry))
    return members


@dataclass
class Reading:
    """CPU seconds per process at one moment."""

    seconds: dict[int, float]

    @classmethod
    def of(cls, pids: Iterable[int]) -> Reading:
        found = {pid: process_seconds(pid) for pid in pids}
        return cls({pid: s for pid, s in found.items() if s is not None})


def spent(before: Reading, after: Reading) -> tuple[float, int]:
    """CPU seconds the processes spent between the readings, and how many ended (their time is lost).

    A process that started after `before` counts with all its time.
    """
    total = sum(s - before.seconds.get(pid, 0.0) for pid, s in after.seconds.items())
    ended = len(set(before.seconds) - set(after.seconds))
    return total, ended


def postgres_backends(cursor, database: str) -> list[int]:
    """The backends connected to `database` (pg_stat_activity), this session's own excluded."""
    cursor.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [database]
    )
    return [row[0] for row in cursor.fetchall()]


def redis_server_pid(client) -> int | None:
    """The Redis server's pid if it runs on this machine (its /proc entry is readable)."""
    pid = int(client.info("server")["process_id"])
    return pid if process_seconds(pid) is not None else None
