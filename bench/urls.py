"""The platform's URLs plus the control endpoints of figure (24.5) (bench/benchapp/control.py)."""

from django.urls import include, path

from bench.benchapp import control

urlpatterns = [
    path("bench/control/posts/", control.ControlPostCreateApi.as_view()),
    path("bench/control/posts/<uuid:post_id>/vote/", control.ControlPostVoteApi.as_view()),
    path("", include("platform_site.urls")),
]
