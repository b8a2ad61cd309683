"""The platform's appends, through its public function `eventstore.bus.publish`.

Each event goes the whole way a service's event goes: schema validation,
context, the one-statement append (with a request's metadata, as raw's rows carry), inline
projections (none handle the bench type), and the after-commit wake-up of
the relay. Runs in worker processes set up with bench.settings.
"""

from __future__ import annotations

import time
import uuid

from .workers import wait_until

BATCH = 100


def _publish(n: int, type_name: str = "bench:thing_recorded"):
    """One event of the bench payload on a new stream (the latency figure's probes use their own type)."""
    from eventstore.bus import publish
    from eventstore.envelope import ExpectedVersion

    from .benchapp.events import thing_payload
    from .raw import REQUEST_METADATA

    return publish(
        type_name,
        stream_id=f"thing-{uuid.uuid4()}",
        data=thing_payload(n),
        expected_version=ExpectedVersion.NO_STREAM,
        metadata=REQUEST_METADATA,
    )


def append_one_per_transaction(*, start_at: float, deadline: float, worker: int) -> int:
    from django.db import transaction

    with transaction.atomic():
        _publish(0)  # connect and warm up before the clock starts
    wait_until(start_at)
    done = 0
    while time.time() < deadline:
        with transaction.atomic():
            _publish(done)
        done += 1
    return done


def append_batches(*, start_at: float, deadline: float, worker: int) -> int:
    """100 events per transaction through `publish_many` (one statement, one new stream)."""
    from django.db import transaction

    from eventstore.bus import publish_many
    from eventstore.envelope import ExpectedVersion

    from .benchapp.events import THING_RECORDED, thing_payload
    from .raw import REQUEST_METADATA

    with transaction.atomic():
        _publish(0)
    wait_until(start_at)
    done = 0
    while time.time() < deadline:
        with transaction.atomic():
            publish_many(
                f"thing-{uuid.uuid4()}",
                [(THING_RECORDED, thing_payload(done + i)) for i in range(BATCH)],
                expected_version=ExpectedVersion.NO_STREAM,
                metadata=REQUEST_METADATA,
            )
        done += BATCH
    return done


def append_batches_one_call_each(*, start_at: float, deadline: float, worker: int) -> int:
    """100 publish() calls per transaction: what a service that loops over publish() pays."""
    from django.db import transaction

    with transaction.atomic():
        _publish(0)
    wait_until(start_at)
    done = 0
    while time.time() < deadline:
        with transaction.atomic():
            for i in range(BATCH):
                _publish(done + i)
        done += BATCH
    return done
