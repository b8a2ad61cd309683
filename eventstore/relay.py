"""The relay: committed events from the Postgres log to Redis Streams, in order.

One relay advances at a time, on any number of workers and machines: each
Celery batch takes a transaction-level advisory lock; the stream runner's
relay (StreamRunnerRelay) holds the same lock for its whole session. It reads
gap-safely from its checkpoint, appends each event to its partition's stream
with a pointer to the previous event of that partition (`prev`), publishes a
summary for live views, and moves the checkpoint in Postgres only after Redis
took the batch. A crash or a Redis error before that leaves the checkpoint
where it was: the batch is sent again, and subscribers drop what they already
processed (at least once).

After a Redis flush (the epoch key is gone) the relay rewinds to the oldest
subscriber checkpoint and sends everything again from there.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import orjson
from django.conf import settings
from django.db import connection, transaction
from redis.exceptions import ResponseError

from . import prepared, streams, tracing
from .advisory_locks import session_pid, still_holds
from .models import Checkpoint
from .reading import HORIZON_CHECKED_SQL, refuse_unless_gap_safe
from .redis import get_redis
from .redis_cluster import is_cluster_client
from .subscribers import registered_subscribers

logger = logging.getLogger(__name__)

RELAY_LOCK_KEY = 7_310_001  # pg advisory lock id of the relay leader
RELAY_CHECKPOINT = "relay"


def relay_partition_checkpoint(partition: int) -> str:
    """Checkpoint name: the last position the relay sent to this partition."""
    return f"relay:p{partition}"


def subscriber_checkpoint_name(subscriber: str, partition: int) -> str:
    return f"sub:{subscriber}:p{partition}"


def _try_lead() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [RELAY_LOCK_KEY])
        return cursor.fetchone()[0]


def _checkpoints() -> dict[str, Checkpoint]:
    names = [RELAY_CHECKPOINT] + [relay_partition_checkpoint(p) for p in range(streams.partition_count())]
    found = {c.name: c for c in Checkpoint.objects.select_for_update().filter(name__in=names)}
    if len(found) < len(names):  # the first run (or a new partition count): create, then lock
        Checkpoint.objects.bulk_create([Checkpoint(name=name) for name in names], ignore_conflicts=True)
        found = {c.name: c for c in Checkpoint.objects.select_for_update().filter(name__in=names)}
    return found


def ensure_groups(redis, partitions: range | None = None) -> None:
    """Create every subscriber's consumer group on every partition (idempotent)."""
    for partition in partitions or range(streams.partition_count()):
        key = streams.partition_key(partition)
        for name in registered_subscribers():
            try:
                redis.xgroup_create(key, streams.group_name(name), id="0", mkstream=True)
            except ResponseError as exc:  # Redis names its error first: BUSYGROUP, the group exists already
                if not str(exc).startswith("BUSYGROUP"):
                    raise


def _rewind_after_flush(checkpoints: dict[str, Checkpoint]) -> None:
    """Redis lost the streams: send again everything some subscriber may not have processed.

    Only the subscribers registered now count: the checkpoint of one that was
    removed stays in the table, stuck where it stopped, and would rewind the
    relay to it (everything since sent again, for nobody). A registered
    subscriber without a checkpoint yet has processed nothing: it counts as 0.
    """
    redis = get_redis()
    relayed = checkpoints[RELAY_CHECKPOINT].position
    subscribers = registered_subscribers()
    for partition in range(streams.partition_count()):
        names = [subscriber_checkpoint_name(name, partition) for name in subscribers]
        stored = dict(Checkpoint.objects.filter(name__in=names).values_list("name", "position"))
        positions = [stored.get(name, 0) for name in names]
        checkpoints[relay_partition_checkpoint(partition)].position = min(positions, default=0)
    subscribed = [c.position for n, c in checkpoints.items() if n != RELAY_CHECKPOINT]
    checkpoints[RELAY_CHECKPOINT].position = min(subscribed) if subscribed else 0
    ensure_groups(redis)
    redis.set(streams.epoch_key(), "1")
    resend_from = checkpoints[RELAY_CHECKPOINT].position
    if resend_from < relayed:
        logger.warning("relay: Redis holds no event streams; resending from position %s", resend_from)
    else:
        # A first start, or every subscriber had processed all that was sent:
        # nothing is sent again, nothing was lost.
        logger.info("relay: new event streams in Redis, from position %s", resend_from)


class RelayResult(NamedTuple):
    sent: int
    partitions: set[int]  # the partitions that got events
    # Committed events wait beyond the horizon (an older transaction is still
    # open): no commit may come to wake the relay again, so a caller that wants
    # low latency looks again shortly.
    held_back: bool


def relay_batch() -> RelayResult:
    """Relay one batch if this process is the leader (a transaction-level lock: the Celery tasks)."""
    with transaction.atomic():
        if not _try_lead():
            return RelayResult(0, set(), False)
        return _send_batch(_checkpoints())


class StreamRunnerRelay:
    """The relay for a long-running loop (the stream runner): it stays the leader between batches.

    relay_batch() takes the lock and reads and locks its checkpoints in a
    transaction for every batch; this holds a session-level lock on the same
    key instead (the Celery tasks' attempts fail while it is held) and keeps
    the checkpoints in memory, so a batch is the read, the send to Redis and
    one UPDATE. When its session is closed (after an error, or a kill) the lock
    goes with it and whoever leads next reads the checkpoints again.
    """

    def __init__(self) -> None:
        self.checkpoints: dict[str, Checkpoint] | None = None
        self.backend_pid: int | None = None

    def batch(self, wake=None) -> RelayResult:
        if not self._lead():
            return RelayResult(0, set(), False)
        try:
            return _send_batch(self.checkpoints, wake)
        except Exception:
            self.checkpoints = None  # moved in memory, perhaps not stored: read them again
            raise

    def has_new_events(self) -> bool:
        """Are there events past the relay checkpoint (this leader's, as it knows it)?

        Cheaper than the newest position (one pruned probe, not a walk down the
        partitions): the stream runner asks this at each poll it was not woken
        for. Past a checkpoint it has caught up to, an event can only be a
        new commit (one below the horizon never commits later).
        """
        if self.checkpoints is None:
            return True  # not leading: a batch tries to take the lead
        return events_from(self.checkpoints[RELAY_CHECKPOINT].position + 1)

    def _lead(self) -> bool:
        if self.checkpoints is not None and still_holds(self.backend_pid):
            return True
        self.checkpoints = None
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [RELAY_LOCK_KEY])
            if not cursor.fetchone()[0]:
                return False
        with transaction.atomic():
            self.checkpoints = _checkpoints()
        self.backend_pid = session_pid()
        return True


def _send_batch(checkpoints: dict[str, Checkpoint], wake=None) -> RelayResult:
    """Send the batch after the relay checkpoint to Redis, then move the checkpoints (the leader only).

    `wake(pipe, partitions)` may add commands to the same round trip (the
    stream runner wakes its consumers there, before the checkpoints are saved).
    """
    redis = get_redis()
    rewound = not redis.exists(streams.epoch_key())
    if rewound:
        _rewind_after_flush(checkpoints)
        _save_positions(checkpoints.values())
    relay_checkpoint = checkpoints[RELAY_CHECKPOINT]
    rows, held_back = _read_envelopes_and_held_back(relay_checkpoint.position, _checked_horizon())
    if not rows:
        return RelayResult(0, set(), held_back)
    touched: set[int] = set()
    summaries = []
    pipe = redis.pipeline(transaction=False)
    spans = tracing.RelaySpans()
    for position, event_id, stream_id, type_name, source, correlation_id, recorded_at, envelope in rows:
        spans.add(type_name, stream_id, position, envelope)
        partition = streams.partition_of(stream_id)
        partition_checkpoint = checkpoints[relay_partition_checkpoint(partition)]
        pipe.xadd(
            streams.partition_key(partition),
            # The type beside the envelope: a subscriber skips other types undecoded.
            {
                "position": position,
                "prev": partition_checkpoint.position,
                "type": type_name,
                "event": envelope,
            },
            maxlen=settings.EVENT_STREAM_MAXLEN,
            approximate=True,
        )
        partition_checkpoint.position = position
        touched.add(partition)
        summaries.append(
            {
                "id": event_id,
                "position": position,
                "type": type_name,
                "stream_id": stream_id,
                "source": source,
                "correlation_id": correlation_id,
                "recorded_at": recorded_at,
            }
        )
    live = orjson.dumps(summaries)
    # A cluster's pipeline refuses PUBLISH (it has no key to route by): there it follows the batch.
    publish_apart = is_cluster_client(redis)
    if not publish_apart:
        pipe.publish(streams.live_channel(), live)
    if wake is not None:
        wake(pipe, touched)
    try:
        pipe.execute()
        if publish_apart:
            redis.publish(streams.live_channel(), live)
    finally:
        spans.end()
    relay_checkpoint.position = rows[-1][0]
    # Only what moved, in one statement. The positions move in memory only after
    # Redis took the batch; if this UPDATE is lost, the batch is sent again.
    _save_positions(
        [relay_checkpoint] + [checkpoints[relay_partition_checkpoint(p)] for p in sorted(touched)]
    )
    return RelayResult(len(rows), touched, held_back)


_SAVE_POSITIONS_SQL = b"""
UPDATE eventstore_checkpoint AS c SET position = m.position, updated_at = now()
FROM unnest(%s::text[], %s::bigint[]) AS m(name, position) WHERE c.name = m.name
"""


def _save_positions(checkpoints) -> None:
    prepared.execute(_SAVE_POSITIONS_SQL, [[c.name for c in checkpoints], [c.position for c in checkpoints]])


# Postgres writes each envelope as JSON itself: the relay only moves bytes, and
# events go to Redis exactly as stored (personal values sealed, data not upcast;
# consumers open and upcast them, docs/privacy.md). Same shape as streams.decode reads.
_ENVELOPES_SQL = b"""
SELECT position, id::text, stream_id, type, source, correlation_id::text,
       to_json(recorded_at)#>>'{}',
       json_build_object(
           'id', id, 'position', position, 'stream_id', stream_id, 'stream_version', stream_version,
           'type', type, 'schema_version', schema_version, 'data', data, 'metadata', metadata,
           'source', source, 'correlation_id', correlation_id, 'causation_id', causation_id,
           'recorded_at', recorded_at
       )::text
FROM eventstore_event
WHERE position > %s::bigint AND position < %s::bigint
ORDER BY position
LIMIT %s::int
"""


def _read_envelopes(after: int, before: int, limit: int) -> list[tuple]:
    # Unnamed, so planned with its bounds each time and pruned to the partitions between them: after
    # five runs a prepared statement may switch to its generic plan, which locks every partition
    # (it did for a relay reading from the log's start; docs/eventstore.md, migration 0014).
    return prepared.fetchall(_ENVELOPES_SQL, [after, before, limit], prepare=False)


# "Is there an event at or past this position?", planned with the position (unnamed, as the read
# above), so only the partitions from there up are planned and locked. Once per relay batch (past the
# horizon: held back?) and per poll of the stream runner (past its checkpoint: anything new?).
# ORDER BY ... LIMIT 1 rather than EXISTS: on a partition without statistics yet EXISTS is planned
# for "many rows match" and may scan the partition whole; the first row in position order is read
# from the primary key whatever the statistics say.
_EVENTS_FROM_SQL = (
    b"SELECT position FROM eventstore_event WHERE position >= %s::bigint ORDER BY position LIMIT 1"
)


def events_from(position: int) -> bool:
    """Is any committed event at `position` or past it?"""
    return bool(prepared.fetchall(_EVENTS_FROM_SQL, [position], prepare=False))


def _read_envelopes_and_held_back(after: int, horizon_position: int) -> tuple[list[tuple], bool]:
    """The batch below the horizon, and whether committed events wait at or past it: one round trip."""
    rows, held_back = prepared.fetch_each(
        [
            (_ENVELOPES_SQL, [after, horizon_position, settings.RELAY_BATCH_SIZE]),
            (_EVENTS_FROM_SQL, [horizon_position]),
        ],
        prepare=False,
    )
    return rows, bool(held_back)


def _checked_horizon() -> int:
    position, in_recovery, isolation = prepared.fetchone(_HORIZON_CHECKED_SQL)
    refuse_unless_gap_safe(in_recovery=in_recovery, isolation=isolation)
    return position


_HORIZON_CHECKED_SQL = HORIZON_CHECKED_SQL.encode()


def relay_pending(max_batches: int = 50, *, batch=relay_batch) -> RelayResult:
    """Relay until caught up (or `max_batches`); `held_back` is the last batch's."""
    total, touched, held_back = 0, set(), False
    for _ in range(max_batches):
        sent, partitions, held_back = batch()
        total += sent
        touched |= partitions
        if sent < settings.RELAY_BATCH_SIZE:
            break
    return RelayResult(total, touched, held_back)
