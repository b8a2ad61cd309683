"""Which database errors the API answers with 503 + Retry-After, and which it does not."""

import psycopg.errors
import pytest
from django.db import OperationalError, ProgrammingError

from platform_site.api_errors import exception_handler
from platform_site.database_errors import database_unavailable


def django_error(cause: Exception, kind=OperationalError) -> Exception:
    """As Django raises it: its own class, with the driver's error as the cause."""
    error = kind(str(cause))
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    "cause",
    [
        psycopg.OperationalError("connection refused"),  # no server answered: no SQLSTATE
        psycopg.errors.AdminShutdown(),
        psycopg.errors.CrashShutdown(),
        psycopg.errors.CannotConnectNow(),
        psycopg.errors.TooManyConnections(),
        psycopg.errors.ConnectionFailure(),
    ],
)
def test_an_unreachable_or_restarting_database_is_a_503_with_retry_after(cause):
    assert database_unavailable(django_error(cause))
    response = exception_handler(django_error(cause), {})
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert "database is unavailable" in response.data["detail"]


@pytest.mark.parametrize(
    "error",
    [
        django_error(psycopg.errors.SerializationFailure()),
        django_error(psycopg.errors.DeadlockDetected()),
        django_error(psycopg.errors.QueryCanceled()),
        django_error(psycopg.errors.UndefinedTable(), kind=ProgrammingError),
    ],
)
def test_conflicts_timeouts_and_bad_queries_are_not_reported_as_an_outage(error):
    assert not database_unavailable(error)
    assert exception_handler(error, {}) is None  # DRF re-raises it: a logged 500


def test_pages_outside_the_api_answer_an_unreachable_database_with_a_503_too(rf, settings):
    """/metrics answered 500 with a traceback per scrape while Postgres was stopped (operator run, 2026-12-06)."""
    from platform_site.database_errors import DatabaseUnavailableMiddleware

    middleware = DatabaseUnavailableMiddleware(lambda request: None)
    response = middleware.process_exception(rf.get("/metrics"), django_error(psycopg.errors.AdminShutdown()))
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert b"database is unavailable" in response.content
    # Anything else is still the 500 it is.
    assert (
        middleware.process_exception(rf.get("/metrics"), django_error(psycopg.errors.DeadlockDetected()))
        is None
    )
    assert middleware.process_exception(rf.get("/metrics"), ValueError("bug")) is None
    assert "platform_site.database_errors.DatabaseUnavailableMiddleware" in settings.MIDDLEWARE
