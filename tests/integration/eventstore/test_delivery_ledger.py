"""The delivery ledger proves each subscriber handled every event of its types once, or names what it did not.

Real Postgres and Redis: events are published, relayed and consumed by the
subscriber machinery; the "faults" are made the way an operator's mistake or
a store bug would make them, by moving a checkpoint behind the system's back.
"""

import io
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from eventstore import delivery_ledger, streams
from eventstore.bus import publish
from eventstore.consumer import drain_subscriber_partition
from eventstore.models import Checkpoint, DeliveryCheck, ParkedEvent
from eventstore.parking import parked_event_retry
from eventstore.redis import get_redis
from eventstore.relay import relay_pending, subscriber_checkpoint_name
from monitoring_app.metrics import render_metrics
from tests.conftest import start_at_head, wait_until_followable
from tests.sample_events import THING_HAPPENED
from tests.testapp.handlers import FAIL_LABEL, effect_count

pytestmark = pytest.mark.django_db(transaction=True)

SUBSCRIBER = "test-recorder"


@pytest.fixture(autouse=True)
def _from_the_head():
    get_redis().flushdb()
    start_at_head()


def publish_things(count: int, *, label: str = "ledger", stream: str | None = None) -> list:
    run = uuid.uuid4().hex[:8]
    events = []
    for n in range(count):
        with transaction.atomic():
            events.append(
                publish(THING_HAPPENED, stream_id=stream or f"ledger-{run}-{n}", data={"label": label})
            )
    wait_until_followable(events[-1].position)
    return events


def deliver() -> None:
    relay_pending()
    for partition in range(streams.partition_count()):
        drain_subscriber_partition(SUBSCRIBER, partition)


def report() -> delivery_ledger.SubscriberReport:
    (found,) = delivery_ledger.verify([SUBSCRIBER])
    return found


def test_a_healthy_run_is_proven_event_by_event():
    events = publish_things(12)
    deliver()

    found = report()
    assert found.ok and found.findings == []
    assert found.checked_events == 12
    assert found.verified_up_to >= 0
    assert all(effect_count(event.id) == 1 for event in events)


def test_an_event_skipped_by_moving_a_checkpoint_is_named():
    before = publish_things(3)
    deliver()
    (skipped,) = publish_things(1)
    # Behind the system's back: the skipped event's partition checkpoint jumps over it.
    name = subscriber_checkpoint_name(SUBSCRIBER, streams.partition_of(skipped.stream_id))
    Checkpoint.objects.filter(name=name).update(position=skipped.position)
    after = publish_things(3)
    deliver()
    assert effect_count(skipped.id) == 0
    assert all(effect_count(e.id) == 1 for e in before + after)

    found = report()
    assert not found.ok
    assert (found.missed, found.doubled) == (1, 0)
    [finding] = found.findings
    assert (finding.kind, finding.event_id, finding.position) == ("missed", str(skipped.id), skipped.position)


def test_an_event_handled_twice_by_rewinding_a_checkpoint_is_named():
    (first,) = publish_things(1)
    deliver()
    name = subscriber_checkpoint_name(SUBSCRIBER, streams.partition_of(first.stream_id))
    # Rewound behind the system's back (and Redis asked to deliver again): the event is handled twice.
    Checkpoint.objects.filter(name=name).update(position=first.position - 1)
    get_redis().flushdb()
    Checkpoint.objects.filter(name__startswith="relay").update(position=first.position - 1)
    deliver()
    assert effect_count(first.id) == 2

    found = report()
    assert (found.missed, found.doubled) == (0, 1)
    assert [(f.kind, f.event_id) for f in found.findings] == [("doubled", str(first.id))]


def test_a_parked_event_is_reported_as_parked_until_its_retry_handles_it():
    (failing,) = publish_things(1, label=FAIL_LABEL)
    publish_things(2)
    deliver()
    parked = ParkedEvent.objects.get(subscriber=SUBSCRIBER, event_id=failing.id)

    found = report()
    assert found.ok and found.parked == 1 and found.checked_events == 2

    Checkpoint.objects.create(name="allow:explode")
    assert parked_event_retry(parked_id=parked.pk)
    found = report()
    assert found.ok and found.parked == 0 and found.checked_events == 3


def test_the_command_fails_naming_the_missed_event_and_metrics_carry_the_result():
    publish_things(2)
    deliver()
    (skipped,) = publish_things(1)
    name = subscriber_checkpoint_name(SUBSCRIBER, streams.partition_of(skipped.stream_id))
    Checkpoint.objects.filter(name=name).update(position=skipped.position)

    out = io.StringIO()
    with pytest.raises(CommandError, match=SUBSCRIBER):
        call_command("verify_delivery", "--subscriber", SUBSCRIBER, stdout=out)
    assert str(skipped.id) in out.getvalue()
    assert DeliveryCheck.objects.get(subscriber=SUBSCRIBER).missed == 1
    metrics = render_metrics().decode()
    assert f'platform_delivery_missed_events{{subscriber="{SUBSCRIBER}"}} 1.0' in metrics

    with pytest.raises(CommandError, match="no such subscriber"):
        call_command("verify_delivery", "--subscriber", "nobody", stdout=io.StringIO())


def test_a_rebuild_restarts_the_ledger_from_what_it_applied():
    publish_things(2)
    deliver()
    names = [subscriber_checkpoint_name(SUBSCRIBER, p) for p in range(streams.partition_count())]
    delivery_ledger.restart(names)
    publish_things(2)
    deliver()
    found = report()
    assert found.ok and found.checked_events == 2
