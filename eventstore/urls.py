from django.urls import path

from .api import CorrelationApi, EventListApi, StreamApi

urlpatterns = [
    path("", EventListApi.as_view(), name="event-list"),
    path("streams/<str:stream_id>/", StreamApi.as_view(), name="event-stream"),
    path("correlation/<uuid:correlation_id>/", CorrelationApi.as_view(), name="event-correlation"),
]
