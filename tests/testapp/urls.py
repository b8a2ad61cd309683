"""The platform's URLs plus one test-only endpoint that sends a Celery task."""

import uuid

from django.http import JsonResponse
from django.urls import include, path

from platform_site.urls import handler400, handler404, handler500  # noqa: F401  (Django reads them from the root URLconf only)

from .tasks import record_from_task


def send_task(request):
    stream_id = f"thing-task-{uuid.uuid4()}"
    record_from_task.delay(stream_id)
    return JsonResponse({"stream_id": stream_id})


urlpatterns = [
    path("test/send-task/", send_task),
    path("", include("platform_site.urls")),
]
