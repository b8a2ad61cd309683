"""What holds the horizon back, for /health/, /metrics and the dashboard (guarantee 10).

A transaction of this database that has written (it has a transaction id)
and not ended holds the horizon at its id: events committed after it wait,
and the relay and every subscriber wait with them, while their lag (counted
below the horizon) still reads 0. The report names that transaction and
counts the committed events waiting above the horizon.

Every query here is bounded: the holder is one row of the process array, and
the waiting events are counted up to WAITING_COUNT_LIMIT along the primary
key from the horizon up. A transaction's start (and so its age) and state are
shown for other roles' sessions only to members of `pg_read_all_stats`, which
`manage.py setup_roles` grants the application role; without it, age and
state are None and the transaction is not called stalled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import connection

from .reading import horizon

WAITING_COUNT_LIMIT = 10_000

# The running transaction of this database (not this session) with the oldest id,
# prepared transactions included: the one the horizon stands at.
HOLDER_SQL = """
SELECT pid, database, application_name, state, username, age_seconds FROM (
    SELECT pid, datname AS database, application_name, state, usename AS username,
           extract(epoch FROM clock_timestamp() - xact_start)::float AS age_seconds,
           age(backend_xid) AS xid_age
    FROM pg_stat_activity
    WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()
    UNION ALL
    SELECT NULL, database, 'prepared transaction ' || gid, 'prepared', owner::text,
           extract(epoch FROM clock_timestamp() - prepared)::float, age(transaction)
    FROM pg_prepared_xacts
    WHERE database = current_database()
) AS running
ORDER BY xid_age DESC
LIMIT 1
"""
_WAITING_SQL = "SELECT count(*) FROM (SELECT 1 FROM eventstore_event WHERE position >= %s ORDER BY position LIMIT %s) AS w"


@dataclass(frozen=True)
class HorizonHolder:
    """The oldest transaction still running in this database: the horizon stands at its id."""

    pid: int | None  # None for a prepared transaction (no session)
    database: str
    application_name: str
    state: str | None  # None when this role may not see it (see the module docstring)
    username: str
    age_seconds: float | None


@dataclass(frozen=True)
class HorizonReport:
    horizon: int
    events_waiting: int  # committed events above the horizon, up to WAITING_COUNT_LIMIT
    holder: HorizonHolder | None
    stalled: bool  # the holder has run longer than HORIZON_STALL_SECONDS

    def as_dict(self) -> dict:
        report = asdict(self)
        report["status"] = "stalled" if self.stalled else "ok"
        report["events_waiting_limit"] = WAITING_COUNT_LIMIT
        if self.holder and self.holder.age_seconds is not None:
            report["holder"]["age_seconds"] = round(self.holder.age_seconds, 1)
        return report

    def summary(self) -> str:
        """One line for people: what waits and who holds it."""
        if self.holder is None:
            return f"{self.events_waiting} events waiting"
        holder = self.holder
        age = "?" if holder.age_seconds is None else f"{holder.age_seconds:.0f} s"
        who = f"pid {holder.pid}" if holder.pid is not None else holder.application_name
        return (
            f"{self.events_waiting} events waiting; held {age} by {who} "
            f"({holder.application_name or 'no name'}, {holder.state or 'state hidden'}, "
            f"user {holder.username}, db {holder.database})"
        )


def horizon_holder() -> HorizonHolder | None:
    with connection.cursor() as cursor:
        cursor.execute(HOLDER_SQL)
        row = cursor.fetchone()
    return HorizonHolder(*row) if row else None


def events_waiting(position: int) -> int:
    """Committed events at or above `position`, counted up to WAITING_COUNT_LIMIT."""
    with connection.cursor() as cursor:
        cursor.execute(_WAITING_SQL, [position, WAITING_COUNT_LIMIT])
        return cursor.fetchone()[0]


def horizon_report() -> HorizonReport:
    """The horizon, the committed events waiting above it, and the transaction holding it."""
    position = horizon()
    holder = horizon_holder()
    stalled = (
        holder is not None
        and holder.age_seconds is not None
        and holder.age_seconds > settings.HORIZON_STALL_SECONDS
    )
    return HorizonReport(position, events_waiting(position), holder, stalled)
