"""The log partitioned by position range, with its unique keys in a table of their own (docs/eventstore.md).

Postgres wants the partition key in every unique index of a partitioned
table, so the log's two global keys (the event id: guarantee 4; the stream
version: guarantee 3) move to `eventstore_event_key`, a narrow table that is
not partitioned. The append inserts an event's key first, `ON CONFLICT DO
NOTHING`, and the event only when its key went in: the same clashes as
before, on the same kind of unique index, whatever partition the event lands in.

The existing table becomes the first partition (every position below the next
transaction's), so no event row is copied; only the keys are. The migration
holds off appends while it copies them, builds one index and scans the table to
attach it: the time that takes grows with the log. On a long log,
`manage.py prepare_partitioned_log` does those steps beforehand while appends
go on (eventstore/log_conversion.py): this migration then finds the keys
complete (it refuses a key table the command did not finish), the index built,
and a validated range check whose bound it takes as the first partition's.

`eventstore_ensure_partitions(span, ahead)` creates the partitions ahead of
the positions being taken (eventstore.partitions calls it on every new
connection and from beat). It is SECURITY DEFINER so the application's role,
which owns nothing, can run it without being able to create anything else.
"""

from django.db import migrations

# The key table, created here or beforehand by `manage.py prepare_partitioned_log` (eventstore/log_conversion.py).
KEY_TABLE = """
CREATE TABLE eventstore_event_key (
    id              uuid         PRIMARY KEY,
    stream_id       varchar(200) NOT NULL,
    stream_version  integer      NOT NULL,
    position        bigint       NOT NULL,
    CONSTRAINT eventstore_event_key_stream_version UNIQUE (stream_id, stream_version)
);
CREATE TRIGGER eventstore_event_key_no_update_delete
    BEFORE UPDATE OR DELETE ON eventstore_event_key
    FOR EACH ROW EXECUTE FUNCTION eventstore_refuse_change();
CREATE TRIGGER eventstore_event_key_no_truncate
    BEFORE TRUNCATE ON eventstore_event_key
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore_refuse_change();
"""
# What prepare_partitioned_log writes on the key table once it holds the key of every event.
KEYS_COMPLETE = "eventstore: holds the key of every event (prepare_partitioned_log)"
# The prepared range check on the log: every position below its bound (prepare_partitioned_log).
FIRST_RANGE_CHECK = "eventstore_event_first_range"

CONVERT = f"""
-- Behind a long reader, the rename's lock would keep every append waiting: give up instead (run it again).
SET LOCAL lock_timeout = '10s';
LOCK TABLE eventstore_event IN SHARE ROW EXCLUSIVE MODE;  -- appends wait; reads go on until the rename

DO $$ BEGIN
    IF to_regclass('eventstore_event_key') IS NULL THEN
        {KEY_TABLE}
        INSERT INTO eventstore_event_key (id, stream_id, stream_version, position)
        SELECT id, stream_id, stream_version, position FROM eventstore_event;
    ELSIF obj_description('eventstore_event_key'::regclass, 'pg_class') IS DISTINCT FROM '{KEYS_COMPLETE}' THEN
        RAISE EXCEPTION 'eventstore_event_key exists but prepare_partitioned_log has not finished: run it again'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
END $$;

-- The table as it was becomes the first partition: its global keys go (the key table
-- holds them now), its row trigger comes back as the clone of the parent's.
ALTER TABLE eventstore_event RENAME TO eventstore_event_first;
ALTER TABLE eventstore_event_first DROP CONSTRAINT eventstore_event_id_key;
ALTER TABLE eventstore_event_first DROP CONSTRAINT eventstore_event_stream_version_key;
DROP TRIGGER eventstore_event_no_update_delete ON eventstore_event_first;
ALTER TRIGGER eventstore_event_no_truncate ON eventstore_event_first RENAME TO eventstore_event_first_no_truncate;
ALTER INDEX eventstore_event_pkey RENAME TO eventstore_event_first_pkey;
ALTER INDEX eventstore_event_correlation_idx RENAME TO eventstore_event_first_correlation_idx;
ALTER INDEX eventstore_event_type_idx RENAME TO eventstore_event_first_type_idx;
ALTER INDEX eventstore_event_recorded_at_idx RENAME TO eventstore_event_first_recorded_at_idx;
ALTER INDEX IF EXISTS eventstore_event_source_idx RENAME TO eventstore_event_first_source_idx;
CREATE INDEX IF NOT EXISTS eventstore_event_first_stream_idx ON eventstore_event_first (stream_id, stream_version);

-- The checks are named as the first partition's (those of migration 0001): attaching it matches them by name.
CREATE TABLE eventstore_event (
    position        bigint       NOT NULL,
    id              uuid         NOT NULL,
    stream_id       varchar(200) NOT NULL CONSTRAINT eventstore_event_stream_id_check CHECK (stream_id <> ''),
    stream_version  integer      NOT NULL CONSTRAINT eventstore_event_stream_version_check CHECK (stream_version > 0),
    type            varchar(100) NOT NULL CONSTRAINT eventstore_event_type_check CHECK (type LIKE '%:%'),
    schema_version  smallint     NOT NULL CONSTRAINT eventstore_event_schema_version_check CHECK (schema_version > 0),
    data            jsonb        NOT NULL,
    metadata        jsonb        NOT NULL DEFAULT '{{}}'::jsonb,
    source          varchar(50)  NOT NULL,
    correlation_id  uuid         NOT NULL,
    causation_id    uuid,
    recorded_at     timestamptz  NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT eventstore_event_pkey PRIMARY KEY (position)
) PARTITION BY RANGE (position);
CREATE INDEX eventstore_event_stream_idx ON eventstore_event (stream_id, stream_version);
CREATE INDEX eventstore_event_correlation_idx ON eventstore_event (correlation_id, position);
CREATE INDEX eventstore_event_type_idx ON eventstore_event (type, position);
CREATE INDEX eventstore_event_recorded_at_idx ON eventstore_event USING brin (recorded_at);
CREATE INDEX eventstore_event_source_idx ON eventstore_event (source, position);
CREATE TRIGGER eventstore_event_no_update_delete
    BEFORE UPDATE OR DELETE ON eventstore_event
    FOR EACH ROW EXECUTE FUNCTION eventstore_refuse_change();
CREATE TRIGGER eventstore_event_no_truncate
    BEFORE TRUNCATE ON eventstore_event
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore_refuse_change();

-- Every position taken so far is below the next transaction's base. A validated range check
-- (prepare_partitioned_log) spares the attach its scan of the table when its bound is the partition's.
DO $$
DECLARE
    prepared bigint := (
        SELECT (regexp_match(pg_get_constraintdef(oid), '< \\(?''?(-?\\d+)'))[1]::bigint
        FROM pg_constraint
        WHERE conrelid = 'eventstore_event_first'::regclass AND conname = '{FIRST_RANGE_CHECK}' AND convalidated);
    upper_bound bigint := greatest(
        (SELECT base FROM eventstore_position_base)
            + (pg_snapshot_xmax(pg_current_snapshot())::text::bigint << 20),
        prepared,
        (SELECT coalesce(max(position), 0) + 1 FROM eventstore_event_first));
BEGIN
    EXECUTE format(
        'ALTER TABLE eventstore_event ATTACH PARTITION eventstore_event_first FOR VALUES FROM (MINVALUE) TO (%s)',
        upper_bound);
END $$;
ALTER TABLE eventstore_event_first DROP CONSTRAINT IF EXISTS {FIRST_RANGE_CHECK};

CREATE FUNCTION eventstore_partition_upper_bounds() RETURNS TABLE (name text, lower_bound bigint, upper_bound bigint)
LANGUAGE sql STABLE AS $$
    SELECT c.relname::text,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''?(-?\\d+)''?\\)'))[1]::bigint,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''?(-?\\d+)''?\\)'))[1]::bigint
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'eventstore_event'::regclass
$$;

-- Partitions [last upper bound, + span) until the positions `ahead` spans past the next
-- transaction's are covered. Each is created on its own and then attached, which locks the
-- log only in SHARE UPDATE EXCLUSIVE mode: appends and reads go on meanwhile.
CREATE FUNCTION eventstore_ensure_partitions(span bigint, ahead integer) RETURNS integer
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
    SELECT max(b.upper_bound) INTO last_upper FROM eventstore_partition_upper_bounds() b;
    IF last_upper >= wanted THEN
        RETURN 0;  -- the usual case: one catalog read
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


def create_partitions_ahead(apps, schema_editor):
    from eventstore import partitions

    partitions.ensure_ahead(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0010_erasure_receipts_and_view_audit")]

    operations = [
        migrations.RunSQL(CONVERT),
        migrations.RunPython(create_partitions_ahead, migrations.RunPython.noop),
    ]
