"""The API's documentation pages, served entirely by the site itself.

Swagger UI and ReDoc come from drf-spectacular-sidecar's static files (no CDN),
and a Content-Security-Policy keeps them to this host: ReDoc's bundle always
shows its vendor's logo from the vendor's CDN, and these pages are opened with
staff sessions, so nothing here may load from, or talk to, another host.
"""

from __future__ import annotations

from functools import wraps

from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

# Both UIs style themselves with inline styles, Swagger UI is started by an inline
# script (drf-spectacular's template) and ReDoc may search in a blob: worker.
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self' 'unsafe-inline'",
        "script-src 'self' 'unsafe-inline'",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self' data:",
        "frame-ancestors 'none'",
    ]
)


def same_host_only(view):
    @wraps(view)
    def guarded(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return response

    return guarded


swagger_ui = same_host_only(SpectacularSwaggerView.as_view(url_name="api-schema"))
# drf-spectacular's ReDoc page, less the web fonts it takes from another host.
redoc = same_host_only(
    SpectacularRedocView.as_view(url_name="api-schema", template_name="api_docs/redoc.html")
)
