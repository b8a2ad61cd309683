"""Positions survive a logical restore into another cluster (guarantee 5; docs/deploy.md's procedure).

A platform runs on a private cluster whose transaction ids are well advanced
(as a production server's are); its events are relayed and handled. The
platform is stopped, its database dumped with pg_dump and restored with
pg_restore into a fresh cluster (low transaction ids), the old cluster is
stopped, and the platform starts on the new one with the same Redis. Before
the stored position base, appends to old streams failed with
StreamOrderConflict and new events were numbered below the restored
checkpoints, so nothing new was ever delivered.

Checked: appends to old and new streams work and land above the restored log;
the relay and every subscriber get every new event; nothing is delivered
twice (the test-recorder counts its effect per event, the event-statistics
projection counts events, and each position is in Redis once).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid

import psycopg
import pytest

from eventstore import streams
from eventstore.relay import RELAY_CHECKPOINT, subscriber_checkpoint_name
from eventstore.subscribers import registered_subscribers
from tests.sample_events import THING_HAPPENED

from .harness import Platform, wait_for
from .private_postgres import BIN, PrivateCluster, temporary_parent

# Transaction ids the old cluster uses up before the platform's events (subtransactions with a write
# each): its positions then start far above anything a fresh cluster numbers with.
BURNED_XIDS = 30_000

WRITE = """
import json
from django.db import transaction
from eventstore.bus import publish
from tests.sample_events import THING_HAPPENED
written = []
for stream_id in {streams!r}:
    with transaction.atomic():  # no retry: a StreamOrderConflict would fail the test
        event = publish(THING_HAPPENED, stream_id=stream_id, data={{"label": "restore"}})
    written.append([str(event.id), event.position, event.stream_id, event.stream_version])
print("WRITTEN " + json.dumps(written))
"""


def write(platform: Platform, stream_ids: list[str]) -> list[dict]:
    """Append one event to each stream, from a process of the platform; the events as recorded."""
    out = platform.manage("shell", "-c", WRITE.format(streams=stream_ids))
    line = next(line for line in out.splitlines() if line.startswith("WRITTEN "))
    return [
        {"id": i, "position": p, "stream_id": s, "stream_version": v}
        for i, p, s, v in json.loads(line.removeprefix("WRITTEN "))
    ]


def effects(cluster: PrivateCluster) -> dict[str, int]:
    """The test-recorder's effect count per event id."""
    rows = cluster.sql(
        "SELECT name, position FROM eventstore_checkpoint WHERE name LIKE 'effect:%'", "platform"
    )
    return {
        name.removeprefix("effect:"): int(count) for name, count in (r.split("|") for r in rows.splitlines())
    }


def counted(cluster: PrivateCluster) -> int:
    """Events of the test type the event-statistics projection counted."""
    return int(
        cluster.sql(
            f"SELECT coalesce(sum(count), 0) FROM eventstore_eventstat WHERE type = '{THING_HAPPENED.name}'",
            "platform",
        )
    )


def checkpoints(cluster: PrivateCluster) -> dict[str, int]:
    rows = cluster.sql("SELECT name, position FROM eventstore_checkpoint", "platform")
    return {name: int(position) for name, position in (r.split("|") for r in rows.splitlines())}


def laggards(cluster: PrivateCluster, events: list[dict]) -> list[str]:
    """Checkpoints of the relay and of every subscriber that have not passed all of `events` yet."""
    stored = checkpoints(cluster)
    behind = [RELAY_CHECKPOINT] if stored[RELAY_CHECKPOINT] < max(e["position"] for e in events) else []
    for event in events:
        partition = streams.partition_of(event["stream_id"])
        for name in registered_subscribers():
            checkpoint = subscriber_checkpoint_name(name, partition)
            if stored.get(checkpoint, 0) < event["position"]:
                behind.append(checkpoint)
    return sorted(set(behind))


def relayed_positions(platform: Platform) -> list[int]:
    redis = platform.redis()
    return [
        int(fields[b"position"])
        for partition in range(streams.partition_count())
        for _id, fields in redis.xrange(streams.partition_key(partition))
    ]


def delivered_once(cluster: PrivateCluster, events: list[dict]) -> bool:
    counts = effects(cluster)
    return all(counts.get(e["id"]) == 1 for e in events)


@pytest.fixture
def clusters():
    parent = temporary_parent()
    made: list[PrivateCluster] = []

    def make() -> PrivateCluster:
        cluster = PrivateCluster.create(parent)
        cluster.start()
        made.append(cluster)
        return cluster

    try:
        yield make, parent
    finally:
        for cluster in made:
            if cluster.running():
                cluster.stop("immediate")
        shutil.rmtree(parent, ignore_errors=True)


@pytest.mark.parametrize("redis_after", ["kept", "flushed"])
def test_a_dump_restored_into_a_fresh_cluster_keeps_positions_monotonic_and_delivers_everything_once(
    clusters, redis_after
):
    """`kept`: a move, Redis as the stopped platform left it. `flushed`: docs/deploy.md's restore, the relay rewinds."""
    make, parent = clusters
    old = make()
    old.sql(
        "CREATE TABLE burn (n int); DO $$ BEGIN FOR i IN 1.." + str(BURNED_XIDS) + " LOOP "
        "BEGIN INSERT INTO burn VALUES (i); EXCEPTION WHEN others THEN NULL; END; END LOOP; END $$"
    )
    old.sql("CREATE DATABASE platform")
    before = Platform(
        database_name="platform", name=f"restore-before-{redis_after}", database_url=old.url("platform")
    )
    before.manage("migrate", "--no-input", "-v", "0")
    before.start_redis()
    after: Platform | None = None
    try:
        runner = before.start_streams()
        run = uuid.uuid4().hex[:8]
        old_streams = [f"thing-{run}-old-{n}" for n in range(8)]
        first = write(before, old_streams) + write(before, old_streams)
        wait_for(
            lambda: delivered_once(old, first), timeout=60, interval=0.5, message="delivery before the dump"
        )
        wait_for(lambda: counted(old) == len(first), timeout=60, interval=0.5, message="statistics before")
        runner.terminate()  # the platform stops writing and following; Redis stays

        started = time.monotonic()
        dump = parent / "platform.dump"
        subprocess.run(
            [f"{BIN}/pg_dump", "-h", "127.0.0.1", "-p", str(old.port), "-U", "postgres", "-Fc", "-f", str(dump),
             "platform"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        newest_before = int(old.sql("SELECT max(position) FROM eventstore_event", "platform"))
        old.stop()
        new = make()
        new.sql("CREATE DATABASE platform")
        subprocess.run(
            [f"{BIN}/pg_restore", "-h", "127.0.0.1", "-p", str(new.port), "-U", "postgres", "-d", "platform",
             "--exit-on-error", str(dump)],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        # The fresh cluster is behind the log it now holds: without the base, new events land below it.
        assert int(new.sql("SELECT pg_current_xact_id()::text::bigint")) << 20 < newest_before

        after = Platform(
            database_name="platform",
            name=f"restore-after-{redis_after}",
            database_url=new.url("platform"),
            redis_port=before.redis_port,  # the same Redis: only the database moved
        )
        if redis_after == "flushed":
            before.redis().flushall()
        after.manage("migrate", "--no-input", "-v", "0")
        after.start_streams()
        new_streams = [f"thing-{run}-new-{n}" for n in range(8)]
        second = write(after, old_streams) + write(after, new_streams)
        wait_for(
            lambda: delivered_once(new, second), timeout=60, interval=0.5, message="delivery after restore"
        )
        recovered = time.monotonic() - started
        print(f"dump, restore, start and first delivery took {recovered:.1f} s")

        assert all(e["position"] > newest_before for e in second)
        assert [e["stream_version"] for e in second[:8]] == [3] * 8  # old streams went on
        assert [e["stream_version"] for e in second[8:]] == [1] * 8
        wait_for(
            lambda: counted(new) == len(first) + len(second),
            timeout=60,
            interval=0.5,
            message="statistics after",
        )
        # The relay and every subscriber passed every new event of their partition (a subscriber
        # stores a checkpoint moved past events it does not handle about once a second).
        wait_for(lambda: not laggards(new, second), timeout=30, interval=0.5, message="every checkpoint past")
        # Nothing twice: each effect once, each event counted once, each position relayed once.
        assert delivered_once(new, first + second)
        positions = relayed_positions(after)
        assert len(positions) == len(set(positions))
        if redis_after == "kept":
            assert sorted(positions) == sorted(e["position"] for e in first + second)
        else:  # resent from the oldest subscriber checkpoint: the new events at least
            assert {e["position"] for e in second} <= set(positions)
    finally:
        if after is not None:
            after.stop()
        before.stop()  # last: it runs the Redis both used


APP_ROLE = """
CREATE ROLE platform_app LOGIN;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO platform_app;
REVOKE UPDATE, DELETE ON eventstore_event FROM platform_app;
REVOKE INSERT, UPDATE, DELETE ON eventstore_position_base FROM platform_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO platform_app;
"""


def test_a_role_that_may_only_read_the_base_still_catches_it_up_and_cannot_set_it(clusters):
    """What the application's role needs: SELECT on the base and EXECUTE on the catch-up (PUBLIC's by default)."""
    make, _parent = clusters
    cluster = make()
    cluster.sql("CREATE DATABASE platform")
    Platform(database_name="platform", name="restore-role", database_url=cluster.url("platform")).manage(
        "migrate", "--no-input", "-v", "0"
    )
    # A log that arrived from a cluster far ahead: one event numbered by a much later transaction id,
    # in a partition of its own (a restored log brings its partitions; migration 0010).
    cluster.sql(f"SELECT eventstore_ensure_partitions({1 << 40}, 64)", "platform")
    cluster.sql(
        "INSERT INTO eventstore_event (position, id, stream_id, stream_version, type, schema_version, data,"
        " source, correlation_id) SELECT (pg_current_xact_id()::text::bigint + 1000000) << 20,"
        f" gen_random_uuid(), 'thing-moved', 1, '{THING_HAPPENED.name}', 2, '{{}}', 'test', gen_random_uuid()",
        "platform",
    )
    cluster.sql(APP_ROLE, "platform")
    moved = int(cluster.sql("SELECT max(position) FROM eventstore_event", "platform"))
    with psycopg.connect(
        host="127.0.0.1", port=cluster.port, user="platform_app", dbname="platform", autocommit=True
    ) as app:
        for statement in (
            "UPDATE eventstore_position_base SET base = 0",
            "INSERT INTO eventstore_position_base (one, base) VALUES (true, 0)",
            "DELETE FROM eventstore_position_base",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(statement)
        caught_up = app.execute("SELECT eventstore_catch_up_positions()").fetchone()[0]
        assert caught_up > 0
        with app.transaction():
            taken = app.execute(
                "SELECT base + (pg_current_xact_id()::text::bigint << 20) FROM eventstore_position_base"
            ).fetchone()[0]
        assert taken > moved
        assert app.execute("SELECT eventstore_horizon()").fetchone()[0] > moved
