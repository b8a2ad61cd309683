"""The database being unreachable, as the API answers it: 503 with Retry-After and a JSON reason.

Which database errors are a 503: only those that say the server cannot be
reached or is going away (no connection, a broken one, a shutdown or restart,
too many connections); the client may send the same request again in a
moment. (A write whose commit was cut off may or may not have happened; the
client finds out as after any lost response.) A serialization failure or a
deadlock is not an outage: under READ COMMITTED our commands do not raise
them, and if one ever escapes it is a 500 to look into, not a 503 that would
send operators looking for a database that is up. platform_site.api_errors
asks this module first for the API; `DatabaseUnavailableMiddleware` answers the
same way for every other page (/metrics, the dashboard, the explorer, the admin).
"""

from __future__ import annotations

import logging

from django.db import OperationalError
from django.http import HttpResponse
from rest_framework import status
from rest_framework.response import Response

logger = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_SECONDS = 2
# SQLSTATE classes and codes of "the server is not there (now)": connection
# exceptions, insufficient resources, and admin/crash shutdown or startup.
_UNAVAILABLE_CLASSES = ("08", "53")
_UNAVAILABLE_CODES = {"57P01", "57P02", "57P03"}


def database_unavailable(exc: BaseException) -> bool:
    """Is this a database error that means "unreachable now", as opposed to a bad query or a conflict?"""
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    if sqlstate is None:  # no answer from a server at all: refused, reset, timed out
        return True
    return sqlstate.startswith(_UNAVAILABLE_CLASSES) or sqlstate in _UNAVAILABLE_CODES


def database_unavailable_response(exc: BaseException) -> Response | None:
    """The API's answer when `exc` says the database is unreachable; None for any other exception."""
    if not database_unavailable(exc):
        return None
    logger.warning("database unavailable, answered 503: %s", exc)
    return Response(
        {"detail": "The database is unavailable for a moment; try again shortly."},
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


class DatabaseUnavailableMiddleware:
    """Pages outside the API answer an unreachable database with 503 and Retry-After, not a 500.

    The operator run of 2026-12-06 (docs/operations.md): with Postgres stopped,
    every scrape of /metrics was an "Internal Server Error" with a traceback,
    which tells a monitoring system the application broke, not that the
    database is away. DRF views never get here: their exception handler
    answers first (platform_site.api_errors).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not database_unavailable(exception):
            return None
        logger.warning("database unavailable, answered 503: %s", exception)
        response = HttpResponse(
            "The database is unavailable for a moment; try again shortly.\n",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response
