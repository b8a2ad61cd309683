"""Worker processes for concurrent figures: the same model for raw psycopg, the peer and the platform.

A 2-core machine runs Python threads one at a time (the GIL), so "4 clients"
means 4 processes, each with its own database connection. Each worker is
started once (spawned, with Django set up when asked), then runs timed jobs
that all begin at one agreed instant and stop at one deadline.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import time
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection

START_DELAY_SECONDS = 0.5


def _serve(conn: Connection, setup_django: bool) -> None:
    if setup_django:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
        import django

        django.setup()
    while True:
        job = conn.recv()
        if job is None:
            break
        target, kwargs = job
        module_name, func_name = target.split(":")
        try:
            result = getattr(importlib.import_module(module_name), func_name)(**kwargs)
            conn.send(("ok", result))
        except Exception:
            conn.send(("error", traceback.format_exc()))
    if setup_django:
        from django.db import connections

        connections.close_all()


class WorkerGroup:
    """`size` spawned processes; `run` gives one job to each of the first n and gathers the results."""

    def __init__(self, size: int, *, django: bool) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self._processes = []
        for _ in range(size):
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(child, django), daemon=True)
            process.start()
            self._pipes.append(parent)
            self._processes.append(process)
        # Wait until every worker has imported and set up, so none starts a timed job late.
        self.run(f"{__name__}:ready", [{} for _ in range(size)])

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self._processes]

    def run(self, target: str, kwargs_per_worker: Sequence[dict]) -> list:
        pipes = self._pipes[: len(kwargs_per_worker)]
        for pipe, kwargs in zip(pipes, kwargs_per_worker, strict=True):
            pipe.send((target, kwargs))
        results = []
        for pipe in pipes:
            status, value = pipe.recv()
            if status != "ok":
                raise RuntimeError(f"worker failed in {target}:\n{value}")
            results.append(value)
        return results

    def timed(self, target: str, clients: int, seconds: float, **kwargs) -> float:
        """Run `target(start_at, deadline, worker, **kwargs)` on `clients` workers; return units per second.

        Each job returns how many units (events) it completed before the deadline.
        """
        start_at = time.time() + START_DELAY_SECONDS
        deadline = start_at + seconds
        jobs = [dict(kwargs, start_at=start_at, deadline=deadline, worker=i) for i in range(clients)]
        return sum(self.run(target, jobs)) / seconds

    def close(self) -> None:
        for pipe in self._pipes:
            pipe.send(None)
        for process in self._processes:
            process.join(timeout=10)

    def __enter__(self) -> WorkerGroup:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def ready() -> bool:
    return True


def wait_until(moment: float) -> None:
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)
