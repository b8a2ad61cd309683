"""Names and shapes of what the relay writes to Redis.

The log is spread over a fixed number of Redis Streams (partitions) by stream
id, so one stream's events always travel in one partition, in order, and
different partitions can be consumed by different workers at once.

Every key carries a hash tag, the part in braces: `{p3}` in the keys of
partition 3 (its stream with its consumer groups, its wake-up list, its
runner and dirty marks), `{relay}` in the relay's (its wake-up list, the
runner mark and the dirty mark the wake-up script reads and writes in one
call). On a Redis Cluster the keys of one tag live in one slot, so a script
or a command may use them together, and the partitions spread over the
primaries. On one server the tags change nothing. The prefix must contain no
braces: its tag would come first and put every key in one slot.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zlib

import orjson
from django.conf import settings

from .envelope import RecordedEvent


def partition_count() -> int:
    return settings.EVENT_STREAM_PARTITIONS


def partition_of(stream_id: str) -> int:
    return zlib.crc32(stream_id.encode()) % partition_count()


def _prefix() -> str:
    return settings.EVENT_STREAM_PREFIX


def key_prefix() -> str:
    """What every key the event store writes to Redis begins with."""
    return _prefix()


RELAY_TAG = "{relay}"


def partition_tag(partition: int) -> str:
    return f"{{p{partition}}}"


def partition_key(partition: int) -> str:
    return f"{_prefix()}events:{partition_tag(partition)}"


def group_name(subscriber: str) -> str:
    return f"sub:{subscriber}"


def live_channel() -> str:
    return f"{_prefix()}events:live"


def epoch_key() -> str:
    """Present while Redis holds the relayed streams; gone after a flush or a fresh start."""
    return f"{_prefix()}events:epoch:{RELAY_TAG}"


def dirty_key(subscriber: str, partition: int) -> str:
    return f"{_prefix()}dirty:{partition_tag(partition)}:{subscriber}"


def runner_key(partition: int | None = None) -> str:
    """Present while a stream runner is alive (it renews the key every second).

    Every runner relays; the key of a partition says that some runner consumes it.
    """
    if partition is None:
        return f"{_prefix()}runner:alive:{RELAY_TAG}"
    return f"{_prefix()}runner:alive:{partition_tag(partition)}"


def relay_wake_key() -> str:
    """A list the stream runner's relay blocks on; a commit pushes to it."""
    return f"{_prefix()}runner:wake:{RELAY_TAG}"


def relay_paced_key() -> str:
    """Present while the leading relay reads on a clock: commits need not wake it (eventstore.relay_pacing)."""
    return f"{_prefix()}runner:paced:{RELAY_TAG}"


def partition_wake_key(partition: int) -> str:
    """A list the stream runner's consumers of one partition block on; the relay pushes to it."""
    return f"{_prefix()}runner:wake:{partition_tag(partition)}"


def decode(payload: bytes) -> RecordedEvent:
    raw = orjson.loads(payload)
    return RecordedEvent(
        id=uuid.UUID(raw["id"]),
        position=raw["position"],
        stream_id=raw["stream_id"],
        stream_version=raw["stream_version"],
        type=raw["type"],
        schema_version=raw["schema_version"],
        data=raw["data"],
        metadata=raw["metadata"],
        source=raw["source"],
        correlation_id=uuid.UUID(raw["correlation_id"]),
        causation_id=uuid.UUID(raw["causation_id"]) if raw["causation_id"] else None,
        recorded_at=dt.datetime.fromisoformat(raw["recorded_at"]),
    )
