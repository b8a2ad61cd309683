"""Who holds a session-level advisory lock: the database session that took it, not a Python object.

Postgres keeps such a lock until the session that took it ends. Django may
open a new session under the same object (after a broken connection), and the
new session holds none of the old one's locks. So a holder remembers the
backend pid it locked from (`session_pid`) and asks `still_holds` before it
acts as the holder.
"""

from django.db import connection


def session_pid() -> int:
    """The backend pid of Django's current database session (the one that just took a lock)."""
    return connection.connection.info.backend_pid


def still_holds(backend_pid: int | None) -> bool:
    """Whether Django's connection is still the session `backend_pid`, and so still holds its session locks."""
    raw = connection.connection
    return raw is not None and not raw.closed and raw.info.backend_pid == backend_pid
