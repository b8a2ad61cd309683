"""Limits on hostile request bodies: size (all requests) and JSON nesting depth (the API).

Django enforces DATA_UPLOAD_MAX_MEMORY_SIZE only when `request.body` or
`request.POST` is read; DRF's parsers read the stream directly, and multipart
file parts are never counted. So the size limit is checked here, up front,
from Content-Length (the WSGI server never hands a view more than that).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 32
TOO_LARGE = "Request body too large."


class RequestSizeLimitMiddleware:
    """Answers 413 to any request announcing a body over DATA_UPLOAD_MAX_MEMORY_SIZE."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and _content_length(request) > limit:
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": TOO_LARGE, "max_bytes": limit}, status=413)
            return HttpResponse(TOO_LARGE, status=413, content_type="text/plain")
        return self.get_response(request)


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class DepthLimitedJSONParser(JSONParser):
    """DRF's JSON parser, refusing documents nested deeper than MAX_JSON_DEPTH with a 400.

    No input of the API nests beyond a few levels; deep nesting only costs
    recursion (a RecursionError in the decoder or in a serializer would be a 500).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.") from None
        if _depth_exceeds(data, MAX_JSON_DEPTH):
            raise ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
        return data


def _depth_exceeds(document, limit: int) -> bool:
    # Iterative, so checking the depth cannot itself recurse too deep.
    pending = [(document, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False
