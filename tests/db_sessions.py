"""Sessions of their own on the test database's server, beside Django's connection.

Concurrency tests need a second writer, an idle transaction or another role:
each opens one here rather than spelling out the connection settings again.
"""

from __future__ import annotations

import psycopg
from django.db import connection


def open_session(*, dbname: str | None = None, user: str | None = None, **options) -> psycopg.Connection:
    """A new psycopg session on the server of the test database (by default that database and user)."""
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=user or settings["USER"],
        dbname=dbname or settings["NAME"],
        **options,
    )
