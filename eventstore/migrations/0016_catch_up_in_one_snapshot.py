"""The position catch-up reads its bound and the log in one snapshot (docs/eventstore.md, "Positions").

Migration 0014's `eventstore_catch_up_positions()` computed its bound (the
next transaction's first position) from one snapshot and then, in a statement
of its own, looked for a stored position at or above it: a VOLATILE function
takes a new snapshot for each statement. A transaction that committed between
the two looked like a log restored from another cluster. The base jumped, and
the horizon with it, past the events of transactions still open under the old
base: the relay passed over them once they committed (tests/e2e/test_scale_out.py
lost scan requests this way; test_position_base reproduces it).

`eventstore_position_above_ids()` is STABLE, so its bound and its read share
the caller's snapshot: a transaction committed after that snapshot is seen by
neither, one committed before it is below the bound. The catch-up asks it
twice, as before: once to find out (no lock), once holding the base's row.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION eventstore_position_above_ids() RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    found bigint;
BEGIN
    -- The bound as a literal, so only the partitions above it are planned (migration 0014).
    EXECUTE format('SELECT max(position) FROM eventstore_event WHERE position >= %s', eventstore_next_position())
        INTO found;
    RETURN found;
END
$$;

CREATE OR REPLACE FUNCTION eventstore_catch_up_positions() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
DECLARE
    current_base bigint;
    newest bigint;
BEGIN
    SELECT base INTO current_base FROM eventstore_position_base;
    newest := eventstore_position_above_ids();
    IF newest IS NULL THEN
        RETURN current_base;  -- ahead of the log: always so on the cluster that wrote it
    END IF;
    -- Behind: the log came from another cluster. Concurrent callers queue on the row;
    -- each statement below sees what the one before it committed.
    SELECT base INTO current_base FROM eventstore_position_base FOR UPDATE;
    newest := eventstore_position_above_ids();
    IF newest IS NULL THEN
        RETURN current_base;  -- another session caught up while this one waited
    END IF;
    -- From the oldest transaction id that can still append, every position lands above
    -- the newest stored one, and so does the horizon.
    UPDATE eventstore_position_base
    SET base = newest + 1 - (eventstore_horizon_xid() << 20)
    RETURNING base INTO current_base;
    RAISE LOG 'eventstore: positions caught up with the log (base %, newest stored position %)',
        current_base, newest;
    RETURN current_base;
END
$$;

DO $$ BEGIN
    EXECUTE format('ALTER FUNCTION eventstore_position_above_ids() SET search_path = %I, pg_temp',
                   current_schema());
END $$;
"""

# Migration 0014's function, as it was.
BACKWARD = """
DROP FUNCTION eventstore_position_above_ids();
CREATE OR REPLACE FUNCTION eventstore_catch_up_positions() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
DECLARE
    current_base bigint;
    newest bigint;
BEGIN
    SELECT base INTO current_base FROM eventstore_position_base;
    EXECUTE format('SELECT max(position) FROM eventstore_event WHERE position >= %s',
                   current_base + (pg_snapshot_xmax(pg_current_snapshot())::text::bigint << 20)) INTO newest;
    IF newest IS NULL THEN
        RETURN current_base;
    END IF;
    SELECT base INTO current_base FROM eventstore_position_base FOR UPDATE;
    EXECUTE format('SELECT max(position) FROM eventstore_event WHERE position >= %s',
                   current_base + (pg_snapshot_xmax(pg_current_snapshot())::text::bigint << 20)) INTO newest;
    IF newest IS NULL THEN
        RETURN current_base;
    END IF;
    UPDATE eventstore_position_base
    SET base = newest + 1 - (eventstore_horizon_xid() << 20)
    RETURNING base INTO current_base;
    RAISE LOG 'eventstore: positions caught up with the log (base %, newest stored position %)',
        current_base, newest;
    RETURN current_base;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0015_stream_reads_through_keys")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
