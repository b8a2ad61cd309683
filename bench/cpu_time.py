"""CPU seconds of a measurement: this process, its children, and the Postgres backends that served it.

The machine is shared, so wall rates swing with the load; CPU time per event
does not. Postgres runs on this machine (the bench's precondition), so a
backend's CPU is read from /proc/<pid>/stat, its pid from `pg_backend_pid()`
or from `pg_stat_activity` by application name.
"""

from __future__ import annotations

import resource
import threading
import time

import psycopg

from . import cpu


def backend_seconds(pid: int) -> float | None:
    """utime + stime of a local backend (None once it has exited); backends wait for no children."""
    return cpu.process_seconds(pid)


def own_seconds() -> float:
    return time.process_time()


def children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class BackendsByName:
    """Samples the CPU of every backend whose application_name is `name` until stopped.

    A backend's last sample can be up to `interval` old when it exits: the figure
    is a slight undercount, by at most interval / duration of the run.
    """

    def __init__(self, connect: dict, name: str, interval: float = 0.2) -> None:
        self._connect, self._name, self._interval = connect, name, interval
        self._seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BackendsByName:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(**self._connect, autocommit=True) as conn:
            while not self._stop.is_set():
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [self._name]
                ).fetchall()
                for (pid,) in rows:
                    seconds = backend_seconds(pid)
                    if seconds is not None:
                        self._seen[pid] = seconds
                self._stop.wait(self._interval)

    @property
    def seconds(self) -> float:
        return sum(self._seen.values())
