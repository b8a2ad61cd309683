"""Helpers of the scale-out and shutdown tests: workloads, "caught up", exactly-once checks."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from django.db import connection, transaction

from eventstore import streams
from eventstore.bus import publish
from eventstore.models import Checkpoint, ParkedEvent
from eventstore.monitoring import head_position
from eventstore.relay import RELAY_CHECKPOINT, relay_partition_checkpoint, subscriber_checkpoint_name
from eventstore.subscribers import registered_subscribers
from tests.sample_events import THING_HAPPENED

PASSWORD = "correct-Horse-battery-9"


def write_things(run: str, *, streams_count: int, per_stream: int, per_transaction: int = 10) -> list:
    """Commit `streams_count` streams of `per_stream` test:thing_happened events, interleaved."""
    events, pending = [], []
    for version in range(per_stream):
        for s in range(streams_count):
            pending.append((f"thing-{run}-{s}", f"v{version}"))
            if len(pending) == per_transaction:
                events += _commit(pending)
                pending = []
    events += _commit(pending)
    connection.close()  # called from threads too: give the connection back
    return events


def _commit(pending: list) -> list:
    with transaction.atomic():
        return [publish(THING_HAPPENED, stream_id=s, data={"label": label}) for s, label in pending]


def effect_counts(event_ids) -> dict[str, int]:
    """Effect counter of test-recorder per event id (missing: 0)."""
    names = [f"effect:{event_id}" for event_id in event_ids]
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, position FROM eventstore_checkpoint WHERE name = ANY(%s)", [names])
        found = {name.removeprefix("effect:"): count for name, count in cursor.fetchall()}
    return {str(event_id): found.get(str(event_id), 0) for event_id in event_ids}


def positions_recorded_in_order(run: str) -> set[int]:
    """Positions test-recorder processed for the run's streams (its `order:` rows)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT position FROM eventstore_checkpoint WHERE name LIKE %s", [f"order:thing-{run}-%"]
        )
        return {row[0] for row in cursor.fetchall()}


def positions_in_log(run: str) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT position FROM eventstore_event WHERE stream_id LIKE %s", [f"thing-{run}-%"])
        return {row[0] for row in cursor.fetchall()}


def caught_up() -> bool:
    """The relay sent every readable event and every subscriber passed every partition's last one."""
    head = head_position()
    relayed = dict(Checkpoint.objects.values_list("name", "position"))
    if relayed.get(RELAY_CHECKPOINT, 0) < head:
        return False
    for partition in range(streams.partition_count()):
        sent = relayed.get(relay_partition_checkpoint(partition), 0)
        for name in registered_subscribers():
            if relayed.get(subscriber_checkpoint_name(name, partition), 0) < sent:
                return False
    return True


def lag_report() -> str:
    """What `caught_up()` waits for, in words: for a failure message that says where delivery stuck."""
    head = head_position()
    relayed = dict(Checkpoint.objects.values_list("name", "position"))
    behind = []
    for partition in range(streams.partition_count()):
        sent = relayed.get(relay_partition_checkpoint(partition), 0)
        behind += [
            f"{name} p{partition} at {relayed.get(subscriber_checkpoint_name(name, partition), 0)} of {sent}"
            for name in sorted(registered_subscribers())
            if relayed.get(subscriber_checkpoint_name(name, partition), 0) < sent
        ]
    parked = list(
        ParkedEvent.objects.filter(resolved_at__isnull=True).values_list("subscriber", "position", "error")[
            :5
        ]
    )
    return (
        f"head {head}, relay at {relayed.get(RELAY_CHECKPOINT, 0)}; "
        f"subscribers behind: {behind or 'none'}; unresolved parked: {parked or 'none'}"
    )


def consume_results(log: str) -> list[int]:
    """Events handled by each consume_partition task that succeeded, from a worker's log."""
    pattern = r"Task eventstore\.tasks\.consume_partition\[[^\]]+\] succeeded in [\d.e-]+s: (\d+)"
    return [int(n) for n in re.findall(pattern, log)]


def worker_log(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def new_run() -> str:
    return uuid.uuid4().hex[:10]
