"""A subscriber whose effects the tests can count: one row per event, counting applications.

Its effect lives in Postgres (a checkpoint-table row named after the event),
so a test can prove "exactly once": the counter must be 1 for every event.
Events labelled "explode" make it fail until a row named "allow:explode"
exists (to test retries, parking and retrying a parked event).
"""

from django.db import connection

from eventstore.subscribers import Subscriber, register_subscriber
from tests.sample_events import THING_HAPPENED

FAIL_LABEL = "explode"


class Exploded(RuntimeError):
    pass


def record_effect(event) -> None:
    with connection.cursor() as cursor:
        if event.data["label"] == FAIL_LABEL:
            cursor.execute("SELECT count(*) FROM eventstore_checkpoint WHERE name = 'allow:explode'")
            if not cursor.fetchone()[0]:
                raise Exploded(f"refusing {event.id}")
        cursor.execute(
            "INSERT INTO eventstore_checkpoint (name, position, updated_at) VALUES (%s, 1, now()) "
            "ON CONFLICT (name) DO UPDATE SET position = eventstore_checkpoint.position + 1",
            [f"effect:{event.id}"],
        )
        # Stream order: the previous version's effect must exist already.
        if event.stream_version > 1:
            cursor.execute(
                "SELECT count(*) FROM eventstore_checkpoint WHERE name = %s",
                [f"order:{event.stream_id}:{event.stream_version - 1}"],
            )
            if cursor.fetchone()[0] == 0:
                raise AssertionError(
                    f"{event.stream_id} v{event.stream_version} arrived before its predecessor"
                )
        cursor.execute(
            "INSERT INTO eventstore_checkpoint (name, position, updated_at) VALUES (%s, %s, now()) ON CONFLICT DO NOTHING",
            [f"order:{event.stream_id}:{event.stream_version}", event.position],
        )


recorder = register_subscriber(Subscriber(name="test-recorder", handlers={THING_HAPPENED: record_effect}))


def effect_count(event_id) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT position FROM eventstore_checkpoint WHERE name = %s", [f"effect:{event_id}"])
        row = cursor.fetchone()
    return row[0] if row else 0
