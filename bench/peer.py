"""The peer: the `eventsourcing` library with its PostgreSQL persistence, doing the same work.

Each save stores one new aggregate whose creation event carries the same
~300-byte payload: one event per transaction. The library serialises writers
of an application with `LOCK TABLE ... IN EXCLUSIVE MODE` so that its
notification ids commit in order. Reading = its notification log, page by
page, each notification decoded into a domain event by the application's mapper.
"""

from __future__ import annotations

import time
from functools import lru_cache

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from .benchapp.events import thing_payload
from .database import connect_params
from .workers import wait_until

PAGE = 5000


class Thing(Aggregate):
    @event("Recorded")
    def __init__(self, payload: dict) -> None:
        self.payload = payload


class Things(Application):
    name = "BenchPeer"


@lru_cache(maxsize=1)
def application(*, create_tables: bool = False) -> Things:
    params = connect_params()
    return Things(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": params["dbname"],
            "POSTGRES_HOST": params["host"],
            "POSTGRES_PORT": str(params["port"]),
            "POSTGRES_USER": params["user"],
            "POSTGRES_PASSWORD": "",
            "POSTGRES_POOL_SIZE": "2",
            # Workers start together: only the runner creates the tables, once.
            "CREATE_TABLE": "y" if create_tables else "n",
        }
    )


def save_one_per_transaction(*, start_at: float, deadline: float, worker: int) -> int:
    app = application()
    app.save(Thing(payload=thing_payload(0)))  # warm the pool before the clock starts
    wait_until(start_at)
    done = 0
    while time.time() < deadline:
        app.save(Thing(payload=thing_payload(done)))
        done += 1
    return done


def fill(events: int) -> None:
    """Bring the peer's log to at least `events` notifications (1,000 aggregates per save)."""
    app = application(create_tables=True)
    have = app.recorder.max_notification_id() or 0
    for start in range(have, events, 1000):
        app.save(*(Thing(payload=thing_payload(n)) for n in range(start, min(events, start + 1000))))


def read_log(events: int) -> float:
    """Read `events` notifications in order, decoded into domain events; events per second."""
    app = application(create_tables=True)
    started = time.perf_counter()
    read, last = 0, 0
    while read < events:
        page = app.recorder.select_notifications(
            start=last, limit=min(PAGE, events - read), inclusive_of_start=False
        )
        if not page:
            break
        decoded = [app.mapper.to_domain_event(n) for n in page]
        read += len(decoded)
        last = page[-1].id
    return read / (time.perf_counter() - started)
