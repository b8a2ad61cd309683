"""The upper bound of the newest partition, kept in a one-row table: the usual partition check reads one row.

`eventstore_ensure_partitions` runs on every new connection and from beat.
Its usual outcome is "enough partitions already", which it learned by
deparsing the bound of every partition: 45-73 ms with 654 partitions
(docs/benchmarks.md, "Growth to 10 million events"), and partitions only
accumulate (one per `EVENTSTORE_PARTITION_TRANSACTIONS` transactions of the
cluster) until archived. Now it compares with `eventstore_partition_head`,
which it updates itself after creating partitions; when that row says more
are needed, the catalog decides as before (under the advisory lock), so a
head left behind only costs one slow call. The application role may only
read the head (eventstore.database_roles), as it may only read the position base.
"""

from django.db import migrations

HEAD = """
CREATE TABLE eventstore_partition_head (
    only_row    boolean PRIMARY KEY DEFAULT true CONSTRAINT eventstore_partition_head_one_row CHECK (only_row),
    upper_bound bigint  NOT NULL
);
INSERT INTO eventstore_partition_head (upper_bound)
SELECT coalesce(max(upper_bound), 0) FROM eventstore_partition_upper_bounds();

CREATE OR REPLACE FUNCTION eventstore_ensure_partitions(span bigint, ahead integer) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
DECLARE
    wanted bigint;
    last_upper bigint;
    name text;
    created integer := 0;
BEGIN
    IF span < 1048576 OR ahead < 1 OR ahead > 64 THEN
        RAISE EXCEPTION 'eventstore_ensure_partitions: span % (at least 2^20) or ahead % (1..64) refused',
            span, ahead USING ERRCODE = 'invalid_parameter_value';
    END IF;
    wanted := (SELECT base FROM eventstore_position_base)
        + (pg_snapshot_xmax(pg_current_snapshot())::text::bigint << 20) + span * ahead;
    IF (SELECT upper_bound FROM eventstore_partition_head) >= wanted THEN
        RETURN 0;  -- the usual case: one row read
    END IF;
    IF NOT pg_try_advisory_xact_lock(hashtext('eventstore_ensure_partitions')) THEN
        RETURN 0;  -- another session is creating them
    END IF;
    SELECT max(b.upper_bound) INTO last_upper FROM eventstore_partition_upper_bounds() b;
    WHILE last_upper < wanted LOOP
        name := format('eventstore_event_from_%s', last_upper);
        EXECUTE format('CREATE TABLE %I (LIKE eventstore_event INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
        EXECUTE format('ALTER TABLE eventstore_event ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
                       name, last_upper, last_upper + span);
        -- Statement triggers are not cloned to partitions: TRUNCATE of the partition itself is refused here.
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT '
                       'EXECUTE FUNCTION eventstore_refuse_change()', name || '_no_truncate', name);
        last_upper := last_upper + span;
        created := created + 1;
    END LOOP;
    UPDATE eventstore_partition_head SET upper_bound = last_upper;
    RETURN created;
END
$$;
DO $$ BEGIN
    EXECUTE format(
        'ALTER FUNCTION eventstore_ensure_partitions(bigint, integer) SET search_path = %I, pg_temp',
        current_schema()
    );
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0011_partitioned_log")]

    operations = [migrations.RunSQL(HEAD)]
