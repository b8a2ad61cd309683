"""Server-Sent Events from the relay's Redis Pub/Sub channel, for the live dashboard.

Each open stream holds one web thread (gunicorn gthread) and one Redis
connection, so a stream ends after STREAM_SECONDS and the browser's
EventSource reconnects by itself, sending the last position it saw
(`Last-Event-ID`); the few events published in between are read back from
Postgres, so a reconnect loses nothing that the log holds.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator

import orjson
from django.db import connection

from eventstore import streams
from eventstore.reading import read_all

logger = logging.getLogger(__name__)
STREAM_SECONDS = 300
KEEPALIVE_SECONDS = 15
POLL_SECONDS = 1.0
RETRY_MILLISECONDS = 3000
BACKFILL_LIMIT = 200


def _frame(event: str, payload: bytes | str, *, last_position: int | None = None) -> str:
    text = payload.decode() if isinstance(payload, bytes) else payload
    head = f"id: {last_position}\n" if last_position is not None else ""
    return f"{head}event: {event}\ndata: {text}\n\n"


def summary(event) -> dict:
    """The same shape as the relay publishes (eventstore.relay)."""
    return {
        "id": str(event.id),
        "position": event.position,
        "type": event.type,
        "stream_id": event.stream_id,
        "source": event.source,
        "correlation_id": str(event.correlation_id),
        "recorded_at": event.recorded_at.isoformat(),
    }


def backfill(after_position: int | None) -> str | None:
    """A frame with the events after `after_position` that a reconnecting browser missed."""
    if after_position is None:
        return None
    events = read_all(after=after_position, limit=BACKFILL_LIMIT)
    if not events:
        return None
    return _frame("events", orjson.dumps([summary(e) for e in events]), last_position=events[-1].position)


def parse_last_event_id(header: str) -> int | None:
    """The position a reconnecting browser saw last, or None for anything but ASCII digits.

    `str.isdigit()` accepts "²" and other Unicode digits that int() refuses
    (a 500); 18 digits keep it inside a bigint.
    """
    return int(header) if re.fullmatch(r"[0-9]{1,18}", header) else None


def _last_position(batch: bytes) -> int | None:
    try:
        return max(item["position"] for item in orjson.loads(batch))
    except (ValueError, KeyError, TypeError):
        return None


def live_events(
    redis,
    *,
    after_position: int | None = None,
    max_seconds: float = STREAM_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[str]:
    """Yield SSE frames: `events` (a JSON list of summaries), keep-alives, `unavailable` on Redis loss."""
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(streams.live_channel())
    except Exception as exc:  # Redis down: say so; EventSource retries after `retry`
        logger.warning("live events: cannot subscribe: %r", exc)
        yield f"retry: {RETRY_MILLISECONDS * 2}\n" + _frame("unavailable", '{"detail": "Redis unreachable"}')
        return
    try:
        yield f"retry: {RETRY_MILLISECONDS}\n: connected\n\n"
        missed = backfill(after_position)
        # No Postgres connection held idle for minutes per open dashboard.
        connection.close()
        if missed:
            yield missed
        deadline = clock() + max_seconds
        last_sent = clock()
        while clock() < deadline:
            try:
                message = pubsub.get_message(timeout=POLL_SECONDS)
            except Exception as exc:
                logger.warning("live events: Redis connection lost: %r", exc)
                yield _frame("unavailable", '{"detail": "Redis connection lost"}')
                return
            if message and message.get("type") == "message":
                yield _frame("events", message["data"], last_position=_last_position(message["data"]))
                last_sent = clock()
            elif clock() - last_sent >= KEEPALIVE_SECONDS:
                yield ": keep-alive\n\n"
                last_sent = clock()
    finally:
        pubsub.close()
