"""Which partitions of the log may be archived: none that a reader of the log still needs.

A partition may go only when every event in it is final and delivered:
- its range lies below the horizon (no running transaction can still write it);
- the relay has sent every event in it, and every registered subscriber has
  handled, in every stream partition, what the relay sent there up to its last
  event (a subscriber that never ran has no checkpoint and holds everything
  back);
- no subscriber has an unresolved parked event in it (a retry reads it again).
Checkpoints of subscribers no longer registered are not waited for.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from .. import streams
from ..reading import horizon
from ..relay import RELAY_CHECKPOINT, relay_partition_checkpoint, subscriber_checkpoint_name
from ..subscribers import registered_subscribers


@dataclass(frozen=True)
class Candidate:
    partition: str
    lower_bound: int | None
    upper_bound: int
    count: int
    first_position: int | None
    last_position: int | None
    newest_recorded_at: object  # datetime or None when empty


def lagging_checkpoints(last_position: int) -> list[str]:
    """The checkpoints (with their positions) that have not yet passed every event up to `last_position`.

    The relay's own checkpoint must have passed it. A relay partition's
    checkpoint is the last position sent to that partition, so a subscriber
    has handled every event of the partition up to `last_position` once its
    checkpoint there reaches the smaller of the two.
    """
    names = [RELAY_CHECKPOINT]
    for partition in range(streams.partition_count()):
        names.append(relay_partition_checkpoint(partition))
        names += [subscriber_checkpoint_name(name, partition) for name in sorted(registered_subscribers())]
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, position FROM eventstore_checkpoint WHERE name = ANY(%s)", [names])
        found = dict(cursor.fetchall())
    lagging = []
    if found.get(RELAY_CHECKPOINT, 0) < last_position:
        lagging.append(f"{RELAY_CHECKPOINT} at {found.get(RELAY_CHECKPOINT, 'none')}")
    for partition in range(streams.partition_count()):
        sent = min(found.get(relay_partition_checkpoint(partition), 0), last_position)
        for name in sorted(registered_subscribers()):
            checkpoint = subscriber_checkpoint_name(name, partition)
            if found.get(checkpoint, 0) < sent:
                lagging.append(f"{checkpoint} at {found.get(checkpoint, 'none')}")
    return lagging


def describe(name: str, lower_bound: int | None, upper_bound: int) -> Candidate:
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT count(*), min(position), max(position), max(recorded_at) FROM "{name}"'  # a catalog name
        )
        count, first, last, newest = cursor.fetchone()
    return Candidate(name, lower_bound, upper_bound, count, first, last, newest)


def refusal(candidate: Candidate) -> str | None:
    """Why this partition may not be archived now, or None when it may."""
    below = horizon()
    if candidate.upper_bound > below:
        return f"its range ends at {candidate.upper_bound}, above the horizon {below}: a transaction may still write it"
    if candidate.last_position is None:
        return None
    behind = lagging_checkpoints(candidate.last_position)
    if behind:
        return (
            f"not delivered everywhere: {len(behind)} checkpoint(s) below its last event "
            f"{candidate.last_position} ({', '.join(behind[:5])})"
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT subscriber, position FROM eventstore_parkedevent "
            "WHERE resolved_at IS NULL AND position BETWEEN %s AND %s ORDER BY position LIMIT 1",
            [candidate.first_position, candidate.last_position],
        )
        parked = cursor.fetchone()
    if parked:
        return f"subscriber {parked[0]} has an unresolved parked event at {parked[1]} in it"
    return None
