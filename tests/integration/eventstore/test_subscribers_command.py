"""`manage.py subscribers` and /health/ report how far behind the followers are."""

import io
import uuid

import pytest
from django.core.management import call_command
from django.db import transaction

from eventstore import streams
from eventstore.bus import publish
from eventstore.consumer import drain_subscriber_partition
from eventstore.monitoring import relay_lag
from eventstore.redis import get_redis
from eventstore.relay import relay_pending
from tests.conftest import start_at_head, wait_until_followable
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db(transaction=True)


def recorder_row() -> list[str]:
    out = io.StringIO()
    call_command("subscribers", stdout=out)
    [row] = [line.split() for line in out.getvalue().splitlines() if line.startswith("test-recorder")]
    return row


def test_lag_counts_down_to_zero_as_the_relay_and_the_subscriber_catch_up(client):
    get_redis().flushdb()
    # Earlier tests' events stay in the log: counted from its head, the lag is this test's.
    start_at_head()
    run = uuid.uuid4().hex[:8]
    for n in range(3):
        with transaction.atomic():
            last = publish(THING_HAPPENED, stream_id=f"thing-{run}-{n}", data={"label": "lag"})
    wait_until_followable(last.position)

    assert relay_lag() >= 3
    assert client.get("/health/").json()["checks"]["relay_lag"] >= 3
    assert int(recorder_row()[2]) >= 3

    relay_pending()
    assert relay_lag() == 0
    for partition in range(streams.partition_count()):
        drain_subscriber_partition("test-recorder", partition)
    _name, checkpoint, lag, _parked = recorder_row()
    assert int(lag) == 0 and int(checkpoint) >= last.position
