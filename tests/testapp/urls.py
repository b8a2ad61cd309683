"""The platform's URLs plus test-only endpoints: one sends a Celery task, one writes slowly."""

import os
import time
import uuid

from django.db import transaction
from django.http import JsonResponse
from django.urls import include, path

from eventstore.bus import publish
from eventstore.redis import get_redis
from platform_site.urls import handler400, handler404, handler500  # noqa: F401  (Django reads them from the root URLconf only)
from tests.sample_events import THING_HAPPENED

from .tasks import record_from_task


def send_task(request):
    stream_id = f"thing-task-{uuid.uuid4()}"
    record_from_task.delay(stream_id)
    return JsonResponse({"stream_id": stream_id})


def slow_write(request):
    """Record one event in a transaction that stays open for `seconds`, for kills mid-request.

    Before it sleeps it names its process in Redis (`slow-write:<stream_id>`),
    so a test can SIGKILL exactly the web worker serving it.
    """
    stream_id = request.GET["stream_id"]
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "slow"})
        get_redis().set(f"slow-write:{stream_id}", os.getpid(), ex=60)
        time.sleep(float(request.GET.get("seconds", "5")))
    return JsonResponse({"stream_id": stream_id, "pid": os.getpid()})


urlpatterns = [
    path("test/send-task/", send_task),
    path("test/slow-write/", slow_write),
    path("", include("platform_site.urls")),
]
