from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from . import api_docs
from .front_door import front_door
from .health import health

urlpatterns = [
    path("health/", health, name="health"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs.swagger_ui, name="api-docs"),
    path("api/redoc/", api_docs.redoc, name="api-redoc"),
    path("api/auth/", include("auth_app.urls")),
    path("api/posts/", include("community_app.urls")),
    path("api/links/", include("links_app.urls")),
    path("api/events/", include("eventstore.urls")),
    path("", include("monitoring_app.urls")),
    path("", front_door, name="front-door"),
]

handler400 = "platform_site.api_errors.bad_request"
handler404 = "platform_site.api_errors.not_found"
handler500 = "platform_site.api_errors.server_error"
