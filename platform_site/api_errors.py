"""API errors are JSON, with the right 4xx, and never a stack trace.

DRF's handler covers its own exceptions; this adds the event store's
optimistic-concurrency conflict (409), the database being unreachable (503
with Retry-After) and JSON pages for unknown URLs and server errors under /api/.

Which database errors are a 503: only those that say the server cannot be
reached or is going away (no connection, a broken one, a shutdown or restart,
too many connections); the client may send the same request again in a
moment. (A write whose commit was cut off may or may not have happened; the
client finds out as after any lost response.) A serialization failure or a
deadlock is not an outage: under READ COMMITTED our commands do not raise
them, and if one ever escapes it is a 500 to look into, not a 503 that would
send operators looking for a database that is up.
"""

from __future__ import annotations

import logging

from django.db import OperationalError
from django.http import JsonResponse
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from eventstore.exceptions import ConcurrencyConflict

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


def exception_handler(exc, context):
    if database_unavailable(exc):
        logger.warning("database unavailable, answered 503: %s", exc)
        return Response(
            {"detail": "The database is unavailable for a moment; try again shortly."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, ConcurrencyConflict):
        return Response(
            {
                "detail": "The resource was changed by someone else; reload it and try again.",
                "current_version": exc.actual_version,
            },
            status=status.HTTP_409_CONFLICT,
        )
    return drf_exception_handler(exc, context)


def bad_request(request, exception=None):
    # Django's own 400s (a SuspiciousOperation such as too many form fields) reach here, not DRF.
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Bad request."}, status=400)
    from django.views.defaults import bad_request as html_bad_request

    return html_bad_request(request, exception)


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Internal server error."}, status=500)
    from django.views.defaults import server_error as html_server_error

    return html_server_error(request)
