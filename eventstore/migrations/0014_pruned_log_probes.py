"""Probes of the log that the planner prunes to a few partitions, whatever their number (docs/eventstore.md).

Postgres 15 prunes a partitioned table at plan time only by values it knows
then: a literal, or a parameter of a custom plan. A bound computed inside the
statement (the position base, the horizon, this transaction's base) prunes
at run time at best, after the planner has opened and locked every partition
and its six indexes. Each statement below used to be such: the position
catch-up's `max(position)` on every new connection, the relay's and the
stream runner's newest position, this transaction's positions taken (the
append after the first of a transaction), the refusal's checks. With 1,528
partitions they took over 10,000 locks each and ran the server's shared lock
table out (docs/benchmarks.md, "Growth to 10 million events").

Each is now a function that first computes its bound, then runs its query
with the bound as a literal (`EXECUTE`, planned afresh every call): only the
partitions that can hold the answer are planned and locked.

- `eventstore_newest_position()`: the log's newest position (0 when empty).
  Positions at or above the next transaction's come only from a log restored
  from another cluster: looked for first, above that bound (the partitions
  made ahead and the default). Then below it, in windows of positions that
  double from 2^30 (1,024 transactions) down to the log's start: the usual
  answer is in the first window.
- `eventstore_last_position_below(bound)`: the same walk from `bound` down
  (/metrics' head, below the horizon).
- `eventstore_positions_taken()`: how many positions this transaction took
  so far (the range of 2^20 above its base).
- `eventstore_catch_up_positions()`: as in migration 0006, but it asks
  whether any position lies at or above the next transaction's (pruned to
  the partitions made ahead and the default), not for the log's maximum.
- `eventstore_default_partition_rows(max_rows)`: the rows of the DEFAULT
  partition, read from that table alone (SECURITY DEFINER: the application's
  role has no grant on a partition), where /health/ found them through every
  partition's deparsed bound.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION eventstore_last_position_below(bound bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    width bigint := 1073741824;  -- 2^30: 1,024 transactions' positions
    found bigint;
BEGIN
    LOOP
        IF bound - width <= 0 OR width >= 4611686018427387904 THEN
            EXECUTE format('SELECT max(position) FROM eventstore_event WHERE position < %s', bound) INTO found;
            RETURN coalesce(found, 0);
        END IF;
        EXECUTE format('SELECT max(position) FROM eventstore_event WHERE position >= %s AND position < %s',
                       bound - width, bound) INTO found;
        IF found IS NOT NULL THEN
            RETURN found;
        END IF;
        bound := bound - width;
        width := width * 2;
    END LOOP;
END
$$;

CREATE FUNCTION eventstore_next_position() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT (SELECT base FROM eventstore_position_base)
        + (pg_snapshot_xmax(pg_current_snapshot())::text::bigint << 20)
$$;

CREATE FUNCTION eventstore_newest_position() RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    next_position bigint := eventstore_next_position();
    found bigint;
BEGIN
    EXECUTE format('SELECT max(position) FROM eventstore_event WHERE position >= %s', next_position) INTO found;
    RETURN coalesce(found, eventstore_last_position_below(next_position));
END
$$;

CREATE FUNCTION eventstore_positions_taken() RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    tx_base bigint := (SELECT base FROM eventstore_position_base) + (pg_current_xact_id()::text::bigint << 20);
    found bigint;
BEGIN
    EXECUTE format('SELECT max(position) FROM eventstore_event WHERE position > %s AND position < %s',
                   tx_base, tx_base + 1048576) INTO found;
    RETURN coalesce(found - tx_base, 0);
END
$$;

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
        RETURN current_base;  -- ahead of the log: always so on the cluster that wrote it
    END IF;
    -- Behind: the log came from another cluster. Concurrent callers queue on the row;
    -- each statement below sees what the one before it committed.
    SELECT base INTO current_base FROM eventstore_position_base FOR UPDATE;
    EXECUTE format('SELECT max(position) FROM eventstore_event WHERE position >= %s',
                   current_base + (pg_snapshot_xmax(pg_current_snapshot())::text::bigint << 20)) INTO newest;
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

CREATE FUNCTION eventstore_default_partition_rows(max_rows bigint) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER AS $$
    SELECT count(*) FROM (SELECT FROM eventstore_event_default LIMIT max_rows) AS held
$$;

DO $$ BEGIN
    EXECUTE format('ALTER FUNCTION eventstore_last_position_below(bigint) SET search_path = %I, pg_temp',
                   current_schema());
    EXECUTE format('ALTER FUNCTION eventstore_next_position() SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION eventstore_newest_position() SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION eventstore_positions_taken() SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION eventstore_catch_up_positions() SET search_path = %I, pg_temp',
                   current_schema());
    EXECUTE format('ALTER FUNCTION eventstore_default_partition_rows(bigint) SET search_path = %I, pg_temp',
                   current_schema());
END $$;
"""

BACKWARD = """
DROP FUNCTION eventstore_default_partition_rows(bigint);
DROP FUNCTION eventstore_positions_taken();
DROP FUNCTION eventstore_newest_position();
DROP FUNCTION eventstore_next_position();
DROP FUNCTION eventstore_last_position_below(bigint);
CREATE OR REPLACE FUNCTION eventstore_catch_up_positions() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
DECLARE
    current_base bigint;
    newest bigint;
BEGIN
    SELECT base INTO current_base FROM eventstore_position_base;
    SELECT max(position) INTO newest FROM eventstore_event;
    IF newest IS NULL
       OR current_base + (pg_snapshot_xmax(pg_current_snapshot())::text::bigint << 20) > newest THEN
        RETURN current_base;
    END IF;
    SELECT base INTO current_base FROM eventstore_position_base FOR UPDATE;
    SELECT max(position) INTO newest FROM eventstore_event;
    IF current_base + (pg_snapshot_xmax(pg_current_snapshot())::text::bigint << 20) > newest THEN
        RETURN current_base;
    END IF;
    UPDATE eventstore_position_base
    SET base = newest + 1 - (eventstore_horizon_xid() << 20)
    RETURNING base INTO current_base;
    RETURN current_base;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0013_default_partition")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
