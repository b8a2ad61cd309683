"""The application's least-privileged database role, for tests that connect as it (guarantee 2).

Roles are cluster-wide, so the role is named after the test database: runs
of other checkouts on the same server (each with its own test database) use
their own role. `manage.py setup_roles` is re-runnable; every caller runs it.
"""

from __future__ import annotations

import psycopg
from django.db import connection

from eventstore.database_roles import RoleSetup, grant_app_role


def app_role_name() -> str:
    return f"{connection.settings_dict['NAME']}_app"[:63]


def ensure_app_role() -> RoleSetup:
    """Create the role if missing and grant it the application's privileges (as the test's owner)."""
    return grant_app_role(app_role_name())


def _server() -> tuple[str, int]:
    settings = connection.settings_dict
    return settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432)


def connect_as_app_role(*, autocommit: bool = True) -> psycopg.Connection:
    host, port = _server()
    return psycopg.connect(
        host=host,
        port=port,
        user=app_role_name(),
        dbname=connection.settings_dict["NAME"],
        autocommit=autocommit,
    )


def app_role_database_url() -> str:
    host, port = _server()
    return f"postgres://{app_role_name()}@{host}:{port}/{connection.settings_dict['NAME']}"
