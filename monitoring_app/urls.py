from django.urls import path

from . import views

app_name = "monitoring"

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/status.json", views.dashboard_status_json, name="status"),
    path("dashboard/live/", views.live_feed, name="live"),
    path("explorer/", views.event_list, name="events"),
    path("explorer/streams/<path:stream_id>/", views.stream_detail, name="stream"),
    path("explorer/correlation/<uuid:correlation_id>/", views.correlation_detail, name="correlation"),
    path("metrics", views.metrics, name="metrics"),
]
