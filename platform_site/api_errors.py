"""API errors are JSON, with the right 4xx, and never a stack trace.

DRF's handler covers its own exceptions; this adds the event store's
optimistic-concurrency conflict, event-id conflict and per-transaction event
limit (all 409: the request clashes with what is stored) and JSON pages for unknown URLs and
server errors under /api/.
"""

from __future__ import annotations

from django.http import JsonResponse
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from eventstore.errors import ConcurrencyConflict, EventIdConflict, TransactionEventLimit

from .database_errors import database_unavailable_response


def exception_handler(exc, context):
    unavailable = database_unavailable_response(exc)  # 503 + Retry-After (see that module)
    if unavailable is not None:
        return unavailable
    if isinstance(exc, ConcurrencyConflict):
        return Response(
            {
                "detail": "The resource was changed by someone else; reload it and try again.",
                "current_version": exc.actual_version,
            },
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, EventIdConflict):
        return Response(
            {"detail": "An event with this id is already recorded with other content."},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, TransactionEventLimit):
        return Response(
            {"detail": "Too many events for one request; split the work into smaller requests."},
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
