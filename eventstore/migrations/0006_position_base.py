"""Positions that stay monotonic when the log moves to another cluster (pg_dump/pg_restore, logical replication).

Positions were `xid << 20 | n`. A restored log lands on a cluster whose
transaction ids are far lower than the ones that numbered it: new events got
positions below the restored relay and subscriber checkpoints (never
delivered), and appends to old streams hit StreamOrderConflict forever.

Now every position, and the horizon, is offset by a stored base:

    position = base + (xid << 20) + n        horizon = base + (oldest running xid << 20)

`eventstore_position_base` holds the base in its one row (dumped and restored
with the log). `eventstore_catch_up_positions()` raises it when the cluster is
*behind* its log, that is when `base + (next xid << 20)` is not above the
newest stored position. That never happens on the cluster that wrote the log
(every position it gave is below `base + (next xid << 20)`), only after the log
arrived from elsewhere. The new base puts the horizon, and so every position
taken from then on, above the newest stored one: restored checkpoints stay
below everything new, and stream heads come from "earlier" transactions.

The function is SECURITY DEFINER, so the application's role needs only SELECT
on the table (the append reads the base inside its own statement) and EXECUTE
on the function; it cannot set the base itself. Its search_path is pinned to
this schema (then pg_temp), so a caller's temporary tables cannot stand in for
ours. The platform calls it on every new connection (eventstore.positions).
"""

from django.db import migrations

CREATE = """
CREATE TABLE eventstore_position_base (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    base bigint  NOT NULL DEFAULT 0
);
INSERT INTO eventstore_position_base (one, base) VALUES (true, 0);

-- The horizon as a position: the base (read in this statement's snapshot, before the
-- running transactions are looked at) plus the oldest running transaction id of this
-- database. A base raised after that snapshot only moves later positions further up.
CREATE FUNCTION eventstore_horizon() RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT (SELECT base FROM eventstore_position_base) + (eventstore_horizon_xid() << 20)
$$;

CREATE FUNCTION eventstore_catch_up_positions() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
DECLARE
    current_base bigint;
    newest bigint;
BEGIN
    SELECT base INTO current_base FROM eventstore_position_base;
    SELECT max(position) INTO newest FROM eventstore_event;
    IF newest IS NULL
       OR current_base + (pg_snapshot_xmax(pg_current_snapshot())::text::bigint << 20) > newest THEN
        RETURN current_base;  -- ahead of the log: always so on the cluster that wrote it
    END IF;
    -- Behind: the log came from another cluster. Concurrent callers queue on the row;
    -- each statement below sees what the one before it committed.
    SELECT base INTO current_base FROM eventstore_position_base FOR UPDATE;
    SELECT max(position) INTO newest FROM eventstore_event;
    IF current_base + (pg_snapshot_xmax(pg_current_snapshot())::text::bigint << 20) > newest THEN
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
    EXECUTE format(
        'ALTER FUNCTION eventstore_catch_up_positions() SET search_path = %I, pg_temp', current_schema()
    );
END $$;
"""

DROP = """
DROP FUNCTION IF EXISTS eventstore_catch_up_positions();
DROP FUNCTION IF EXISTS eventstore_horizon();
DROP TABLE IF EXISTS eventstore_position_base;
"""


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0005_delivery_ledger")]

    operations = [migrations.RunSQL(CREATE, DROP)]
