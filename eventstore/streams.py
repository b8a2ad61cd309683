"""Names and shapes of what the relay writes to Redis.

The log is spread over a fixed number of Redis Streams (partitions) by stream
id, so one stream's events always travel in one partition, in order, and
different partitions can be consumed by different workers at once.
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


def partition_key(partition: int) -> str:
    return f"{_prefix()}events:{partition}"


def group_name(subscriber: str) -> str:
    return f"sub:{subscriber}"


def live_channel() -> str:
    return f"{_prefix()}events:live"


def epoch_key() -> str:
    """Present while Redis holds the relayed streams; gone after a flush or a fresh start."""
    return f"{_prefix()}events:epoch"


def dirty_key(subscriber: str, partition: int) -> str:
    return f"{_prefix()}dirty:{subscriber}:{partition}"


def runner_key(partition: int | None = None) -> str:
    """Present while a stream runner is alive (it renews the key every second).

    Every runner relays; the key of a partition says that some runner consumes it.
    """
    if partition is None:
        return f"{_prefix()}runner:alive"
    return f"{_prefix()}runner:alive:{partition}"


def relay_wake_key() -> str:
    """A list the stream runner's relay blocks on; a commit pushes to it."""
    return f"{_prefix()}runner:wake:relay"


def partition_wake_key(partition: int) -> str:
    """A list the stream runner's consumers of one partition block on; the relay pushes to it."""
    return f"{_prefix()}runner:wake:{partition}"


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
