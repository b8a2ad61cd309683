"""Who may see the monitoring pages: staff sessions; /metrics also a bearer token."""

from __future__ import annotations

import hmac
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse


def staff_required(view):
    """Anonymous visitors go to the login page; signed-in non-staff get 403."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return guarded


def _bearer_token_matches(request) -> bool:
    expected = getattr(settings, "METRICS_TOKEN", None)
    header = request.headers.get("Authorization", "")
    if not expected or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), expected.encode())


def metrics_access(view):
    """A scraper presents `Authorization: Bearer <METRICS_TOKEN>`; a person signs in as staff."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if _bearer_token_matches(request) or (request.user.is_authenticated and request.user.is_staff):
            return view(request, *args, **kwargs)
        if request.user.is_authenticated:
            return HttpResponse("staff only\n", status=403, content_type="text/plain")
        response = HttpResponse("authentication required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response

    return guarded
