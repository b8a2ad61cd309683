"""The online way to migration 0011: its slow steps done beforehand, while appends go on.

Migration 0011 turns the unpartitioned log into the first partition of a
partitioned one. Alone, it holds appends while it copies every key, builds
one index and scans the table to attach it: seconds per million events
(docs/eventstore.md gives the figures). `prepare()` does those three steps
first, each without holding appends, so that 0011 finds them done and is
left with catalog changes:

1. the key table, and a transition trigger on the log that gives every new
   event its key (`KEY_FROM_LOG`); then the keys of the events already there,
   copied in batches of positions, each batch its own transaction;
2. the first partition's `(stream_id, stream_version)` index, built
   `CONCURRENTLY`;
3. a range check `position < bound`, added `NOT VALID` and then validated
   (which takes no lock that appends wait for): the attach then needs no scan.
   The bound lies `transactions_ahead` transactions past the next one, so the
   first partition takes every event until the cluster reaches it; 0011 must
   run before then (an append past the bound would be refused).

The trigger stays on the first partition after 0011: processes still running
the code before 0011, whose append inserts no key, go on getting keys (a
duplicate id or stream version is then an error, not their usual conflict).
Once every process runs the new code, `finish()` drops it.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection

from .errors import LogConversionRefused
from .store.statements import POSITION_SHIFT

_MIGRATION = importlib.import_module("eventstore.migrations.0011_partitioned_log")
KEYS_COMPLETE = _MIGRATION.KEYS_COMPLETE
FIRST_RANGE_CHECK = _MIGRATION.FIRST_RANGE_CHECK
FIRST_STREAM_INDEX = "eventstore_event_first_stream_idx"
KEY_FROM_LOG = "eventstore_event_key_from_log"

# The key of each new event, unless the append put it there first (the code after 0011 does):
# then the key must be this very event's, else the event clashes with another one's key.
_KEY_FROM_LOG_SQL = f"""
CREATE OR REPLACE FUNCTION {KEY_FROM_LOG}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO eventstore_event_key (id, stream_id, stream_version, position)
    VALUES (NEW.id, NEW.stream_id, NEW.stream_version, NEW.position)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND AND NOT EXISTS (
        SELECT 1 FROM eventstore_event_key WHERE id = NEW.id AND position = NEW.position
    ) THEN
        RAISE EXCEPTION 'event % (stream %, version %) clashes with a key already taken',
            NEW.id, NEW.stream_id, NEW.stream_version USING ERRCODE = 'unique_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER {KEY_FROM_LOG} AFTER INSERT ON eventstore_event
    FOR EACH ROW EXECUTE FUNCTION {KEY_FROM_LOG}();
"""

# One batch of keys: the next `limit` events by position, up to `until`; where the batch ended.
_COPY_BATCH_SQL = """
WITH batch AS MATERIALIZED (
    SELECT id, stream_id, stream_version, position FROM eventstore_event
    WHERE position > %(after)s AND position <= %(until)s ORDER BY position LIMIT %(limit)s
), copied AS (
    INSERT INTO eventstore_event_key (id, stream_id, stream_version, position)
    SELECT id, stream_id, stream_version, position FROM batch
    ON CONFLICT DO NOTHING
)
SELECT max(position), count(*) FROM batch
"""

# A lock that waits behind a long transaction would hold every append queued behind it.
_LOCK_TIMEOUT = "2s"
_LOCK_ATTEMPTS = 30


@dataclass
class Prepared:
    keys_copied: int
    bound: int
    transactions_left: int
    seconds: dict[str, float]


def _one(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def is_partitioned() -> bool:
    return _one("SELECT relkind = 'p' FROM pg_class WHERE oid = 'eventstore_event'::regclass")[0]


def _briefly_locking(sql: str) -> None:
    """Run a statement that takes a strong lock for an instant, giving up after a short wait, and retry."""
    for attempt in range(_LOCK_ATTEMPTS):
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = '{_LOCK_TIMEOUT}'")
                try:
                    cursor.execute(sql)
                finally:
                    cursor.execute("RESET lock_timeout")
            return
        except Exception as error:  # lock_not_available: a long transaction held the table
            if getattr(getattr(error, "__cause__", None), "sqlstate", None) != "55P03":
                raise
            if attempt == _LOCK_ATTEMPTS - 1:
                raise LogConversionRefused(
                    f"could not lock eventstore_event within {_LOCK_TIMEOUT} in {_LOCK_ATTEMPTS} attempts"
                ) from error
            time.sleep(1)


def _copy_keys(batch: int, say: Callable[[str], None]) -> int:
    # The trigger exists now, and creating it waited for every append in flight: every event
    # committed without it lies at or below this position.
    after, until = _one(
        "SELECT coalesce(min(position) - 1, 0), coalesce(max(position), 0) FROM eventstore_event"
    )
    copied = 0
    while True:
        last, count = _one(_COPY_BATCH_SQL, {"after": after, "until": until, "limit": batch})
        if not count:
            return copied
        after, copied = last, copied + count
        if copied % (batch * 50) == 0:
            say(f"  {copied:,} keys")


def _build_index(say: Callable[[str], None]) -> None:
    valid = _one(
        "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(%s)", [FIRST_STREAM_INDEX]
    )
    if valid is not None and not valid[0]:  # left INVALID by an interrupted build: build it again
        say(f"  dropping the interrupted build of {FIRST_STREAM_INDEX}")
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX CONCURRENTLY {FIRST_STREAM_INDEX}")
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {FIRST_STREAM_INDEX} "
            "ON eventstore_event (stream_id, stream_version)"
        )


def _range_bound(transactions_ahead: int) -> int:
    return _one(
        f"SELECT (SELECT base FROM eventstore_position_base) "
        f"+ ((pg_snapshot_xmax(pg_current_snapshot())::text::bigint + %s) << {POSITION_SHIFT})",
        [transactions_ahead],
    )[0]


def transactions_left() -> int | None:
    """Transactions the cluster may still take before appends reach the prepared bound (None: none set)."""
    row = _one(
        f"SELECT (((regexp_match(pg_get_constraintdef(c.oid), '< \\(?''?(-?\\d+)'))[1]::bigint "
        f"- (SELECT base FROM eventstore_position_base)) >> {POSITION_SHIFT}) "
        f"- pg_snapshot_xmax(pg_current_snapshot())::text::bigint "
        "FROM pg_constraint c WHERE c.conrelid = to_regclass('eventstore_event') AND c.conname = %s",
        [FIRST_RANGE_CHECK],
    )
    return None if row is None else row[0]


def prepare(*, batch: int, transactions_ahead: int, say: Callable[[str], None]) -> Prepared:
    """Steps 1-3 above, each safe to run again; refused once the log is partitioned."""
    if not connection.get_autocommit():
        raise LogConversionRefused("run outside a transaction: each step commits on its own")
    if is_partitioned():
        raise LogConversionRefused("the log is partitioned already (migration 0011 has run)")
    if transactions_ahead < 1000:
        raise LogConversionRefused("--transactions-ahead below 1000 leaves no time to run the migration")
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    if _one("SELECT to_regclass('eventstore_event_key') IS NULL")[0]:
        with connection.cursor() as cursor:
            cursor.execute(_MIGRATION.KEY_TABLE)
    _briefly_locking(_KEY_FROM_LOG_SQL)
    say("Copying the keys of the events already in the log ...")
    copied = _copy_keys(batch, say)
    with connection.cursor() as cursor:
        cursor.execute(f"COMMENT ON TABLE eventstore_event_key IS '{KEYS_COMPLETE}'")
    seconds["keys"] = time.perf_counter() - started

    started = time.perf_counter()
    say(f"Building {FIRST_STREAM_INDEX} concurrently ...")
    _build_index(say)
    seconds["index"] = time.perf_counter() - started

    started = time.perf_counter()
    bound = _range_bound(transactions_ahead)
    say(f"Adding and validating the range check (position < {bound}) ...")
    _briefly_locking(
        f"ALTER TABLE eventstore_event DROP CONSTRAINT IF EXISTS {FIRST_RANGE_CHECK}, "
        f"ADD CONSTRAINT {FIRST_RANGE_CHECK} CHECK (position < {bound}) NOT VALID"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE eventstore_event VALIDATE CONSTRAINT {FIRST_RANGE_CHECK}")
    seconds["range check"] = time.perf_counter() - started
    return Prepared(copied, bound, transactions_left(), seconds)


def finish() -> bool:
    """Drop the transition trigger once no process runs the code before 0011; False if it was gone."""
    if not is_partitioned():
        raise LogConversionRefused(
            "the log is not partitioned yet: the trigger gives new events their keys until migration 0011"
        )
    present = _one("SELECT count(*) FROM pg_trigger WHERE tgname = %s AND NOT tgisinternal", [KEY_FROM_LOG])[
        0
    ]
    _briefly_locking(f"DROP TRIGGER IF EXISTS {KEY_FROM_LOG} ON eventstore_event_first")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP FUNCTION IF EXISTS {KEY_FROM_LOG}()")
    return bool(present)
