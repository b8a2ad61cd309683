"""API errors are JSON, with the right 4xx, and never a stack trace.

The one place where errors become statuses. DRF's handler covers its own
exceptions; `domain_error_as_api_exception` turns what the services raise
into the DRF exception that answers it (the apps' errors modules name them);
the event store's optimistic-concurrency conflict, event-id conflict and
per-transaction event limit are 409s (the request clashes with what is
stored); unknown URLs and server errors under /api/ get JSON pages.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from auth_app.errors import InvalidCredentials, LoginLocked
from community_app.errors import NotAllowed, PostNotFound
from eventstore import ConcurrencyConflict, EventIdConflict, TransactionEventLimit
from links_app.errors import LinkNotFound, NotAModerator

from .database_errors import database_unavailable_response

INVALID_CREDENTIALS = "Invalid username or password."
LOGIN_LOCKED = "Too many failed login attempts."


def domain_error_as_api_exception(exc, context) -> Exception:
    """The DRF exception that answers a service's error (its status and body); other errors as they are."""
    if isinstance(exc, PostNotFound | LinkNotFound):
        return exceptions.NotFound(*exc.args)
    if isinstance(exc, NotAllowed | NotAModerator):
        return exceptions.PermissionDenied(*exc.args)
    if isinstance(exc, LoginLocked):  # and LoginRateLimited, its subclass
        return exceptions.Throttled(wait=exc.retry_after, detail=LOGIN_LOCKED)
    if isinstance(exc, InvalidCredentials):
        failed = exceptions.AuthenticationFailed(INVALID_CREDENTIALS)
        # What DRF's view does for its own AuthenticationFailed: without a challenge a 401 is a 403.
        challenge = context["view"].get_authenticate_header(context["request"])
        if challenge:
            failed.auth_header = challenge
        else:
            failed.status_code = status.HTTP_403_FORBIDDEN
        return failed
    if isinstance(exc, DjangoValidationError):  # a service's field errors
        return exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    return exc


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
    return drf_exception_handler(domain_error_as_api_exception(exc, context), context)


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
