"""A DEFAULT partition of the log, so that no append fails for want of a range partition (docs/eventstore.md).

Range partitions are made ahead of the positions being taken (migration 0011,
eventstore.partitions), but a position is the appending transaction's id:
if beat stops and the cluster takes ids faster than connections open, an
append could land past every partition. It now lands in
`eventstore_event_default` and commits like any other; its position, and so
the log's order and the horizon, are what they would have been.

`eventstore_ensure_partitions` then settles the default before making more
partitions (Postgres refuses a range partition while the default holds rows
in its range). In one transaction, with the log locked against every reader
and writer (ACCESS EXCLUSIVE, given up after `lock_timeout` and tried again
on the next call): the default is detached, renamed into the range partition
that covers its rows, attached again as such, and a new empty default is
made. No row is copied or deleted: the rows stay the tuples they were, so a
reader's snapshot sees exactly what it saw before.

When the partitions reach less than one span past the positions being taken,
appends could reach the range being attached: an append routed to the
default under the old bounds would then be refused under the new ones, so
those calls lock the log as the settling does. Otherwise no running
transaction can take a position that far up, and only the (empty) default
is locked, for the moment its check takes. DETACH PARTITION CONCURRENTLY is
refused while a default exists (archive_events detaches with a short lock).
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION eventstore_make_default_partition() RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
BEGIN
    CREATE TABLE eventstore_event_default (LIKE eventstore_event INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
    ALTER TABLE eventstore_event ATTACH PARTITION eventstore_event_default DEFAULT;
    -- Statement triggers are not cloned to partitions: TRUNCATE of the partition itself is refused here.
    CREATE TRIGGER eventstore_event_default_no_truncate BEFORE TRUNCATE ON eventstore_event_default
        FOR EACH STATEMENT EXECUTE FUNCTION eventstore_refuse_change();
END
$$;
SELECT eventstore_make_default_partition();

-- The range partitions only: the default has no bounds.
CREATE OR REPLACE FUNCTION eventstore_partition_upper_bounds()
RETURNS TABLE (name text, lower_bound bigint, upper_bound bigint)
LANGUAGE sql STABLE AS $$
    SELECT c.relname::text,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''?(-?\\d+)''?\\)'))[1]::bigint,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''?(-?\\d+)''?\\)'))[1]::bigint
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'eventstore_event'::regclass
      AND c.oid IS DISTINCT FROM (
          SELECT partdefid FROM pg_partitioned_table WHERE partrelid = 'eventstore_event'::regclass)
$$;

-- The default's rows become the range partition [last upper bound, a multiple of `span` past
-- their highest position): the default table itself, renamed, so no row is copied. Returns how
-- many rows it held (negated when they cannot settle so). The caller holds the advisory lock
-- of eventstore_ensure_partitions.
CREATE FUNCTION eventstore_settle_default_partition(span bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
DECLARE
    lowest bigint;
    highest bigint;
    held bigint;
    last_upper bigint;
    upper bigint;
    name text;
    index_name text;
BEGIN
    -- No append may run while the partition bounds change: one routed to the default under
    -- the old bounds would be refused under the new ones. Readers wait too (DETACH needs it).
    LOCK TABLE ONLY eventstore_event IN ACCESS EXCLUSIVE MODE;
    SELECT min(position), max(position), count(*) INTO lowest, highest, held FROM eventstore_event_default;
    IF held = 0 THEN
        RETURN 0;
    END IF;
    SELECT max(b.upper_bound) INTO last_upper FROM eventstore_partition_upper_bounds() b;
    IF lowest < last_upper THEN
        -- Below the last range partition: only a position in an archived range could be, and none
        -- is ever taken there. Left for an operator to look at (/health/ names the default's rows).
        RAISE WARNING 'eventstore_settle_default_partition: the default holds position %, below %',
            lowest, last_upper;
        RETURN -held;
    END IF;
    upper := last_upper + span * ((highest - last_upper) / span + 1);
    name := format('eventstore_event_from_%s', last_upper);
    ALTER TABLE eventstore_event DETACH PARTITION eventstore_event_default;
    EXECUTE format('ALTER TABLE eventstore_event_default RENAME TO %I', name);
    EXECUTE format('ALTER TRIGGER eventstore_event_default_no_truncate ON %I RENAME TO %I',
                   name, name || '_no_truncate');
    FOR index_name IN
        SELECT c.relname FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
        WHERE x.indrelid = to_regclass(name) AND c.relname LIKE 'eventstore\\_event\\_default\\_%'
    LOOP
        EXECUTE format('ALTER INDEX %I RENAME TO %I', index_name,
                       left(name || substr(index_name, length('eventstore_event_default') + 1), 63));
    END LOOP;
    EXECUTE format('ALTER TABLE eventstore_event ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
                   name, last_upper, upper);
    PERFORM eventstore_make_default_partition();
    RAISE LOG 'eventstore: % events of the default partition are now partition % [%, %)',
        held, name, last_upper, upper;
    RETURN held;
END
$$;

-- As in migration 0012 (the head row answers the usual call), except when appends may reach
-- the ranges about to be made: when the partitions reach less than one span past the next
-- transaction's positions, or the default holds rows already. An append routed to the default under the old bounds would be refused
-- under the new ones, so then the log is locked (ACCESS EXCLUSIVE: the settling's DETACH needs
-- it anyway) and the default's rows settle first. Otherwise no running transaction can take a
-- position that far up, and appends and reads go on. Each lock is waited for at most
-- `lock_timeout` (set on the function): on a busy log the call gives up with a warning,
-- leaving everything as it was for the next call.
CREATE OR REPLACE FUNCTION eventstore_ensure_partitions(span bigint, ahead integer) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
DECLARE
    next_position bigint;
    wanted bigint;
    last_upper bigint;
    name text;
    settled bigint;
    created integer := 0;
BEGIN
    IF span < 1048576 OR ahead < 1 OR ahead > 64 THEN
        RAISE EXCEPTION 'eventstore_ensure_partitions: span % (at least 2^20) or ahead % (1..64) refused',
            span, ahead USING ERRCODE = 'invalid_parameter_value';
    END IF;
    next_position := (SELECT base FROM eventstore_position_base)
        + (pg_snapshot_xmax(pg_current_snapshot())::text::bigint << 20);
    IF (SELECT upper_bound FROM eventstore_partition_head) >= next_position + span * ahead
       AND NOT EXISTS (SELECT FROM eventstore_event_default) THEN
        RETURN 0;  -- the usual case: the head row (migration 0012) and a read of an empty table
    END IF;
    IF NOT pg_try_advisory_xact_lock(hashtext('eventstore_ensure_partitions')) THEN
        RETURN 0;  -- another session is creating them
    END IF;
    SELECT max(b.upper_bound) INTO last_upper FROM eventstore_partition_upper_bounds() b;
    BEGIN
        IF last_upper < next_position + span OR EXISTS (SELECT FROM eventstore_event_default) THEN
            LOCK TABLE ONLY eventstore_event IN ACCESS EXCLUSIVE MODE;
            IF EXISTS (SELECT FROM eventstore_event_default) THEN
                settled := eventstore_settle_default_partition(span);
                IF settled < 0 THEN
                    RETURN 0;  -- no range partition can be made over the rows it keeps
                END IF;
                created := (settled > 0)::integer;
            END IF;
        END IF;
        -- Read again: transactions began while this one waited for the lock.
        wanted := (SELECT base FROM eventstore_position_base)
            + (pg_snapshot_xmax(pg_current_snapshot())::text::bigint << 20) + span * ahead;
        SELECT max(b.upper_bound) INTO last_upper FROM eventstore_partition_upper_bounds() b;
        WHILE last_upper < wanted LOOP
            name := format('eventstore_event_from_%s', last_upper);
            EXECUTE format('CREATE TABLE %I (LIKE eventstore_event INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
            EXECUTE format('ALTER TABLE eventstore_event ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
                           name, last_upper, last_upper + span);
            EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT '
                           'EXECUTE FUNCTION eventstore_refuse_change()', name || '_no_truncate', name);
            last_upper := last_upper + span;
            created := created + 1;
        END LOOP;
        UPDATE eventstore_partition_head SET upper_bound = last_upper;
    EXCEPTION WHEN lock_not_available THEN
        RAISE WARNING 'eventstore_ensure_partitions: the log stayed locked for lock_timeout; '
            'partitions and the default partition are left as they were until the next call';
        RETURN 0;
    END;
    RETURN created;
END
$$;
DO $$ BEGIN
    EXECUTE format('ALTER FUNCTION eventstore_make_default_partition() SET search_path = %I, pg_temp',
                   current_schema());
    EXECUTE format('ALTER FUNCTION eventstore_settle_default_partition(bigint) SET search_path = %I, pg_temp',
                   current_schema());
    EXECUTE format('ALTER FUNCTION eventstore_ensure_partitions(bigint, integer) SET search_path = %I, pg_temp',
                   current_schema());
END $$;
ALTER FUNCTION eventstore_ensure_partitions(bigint, integer) SET lock_timeout = '2s';
"""


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0012_partition_head")]

    operations = [migrations.RunSQL(FORWARD)]
