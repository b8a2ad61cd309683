"""A Celery task that records an event, to prove tasks run in their sender's correlation."""

from celery import shared_task
from django.db import transaction

from eventstore.bus import publish
from tests.sample_events import THING_HAPPENED


@shared_task(name="tests.testapp.tasks.record_from_task")
def record_from_task(stream_id: str) -> None:
    with transaction.atomic():
        publish(THING_HAPPENED, stream_id=stream_id, data={"label": "from a task"})
