"""The horizon of this database alone, as a function (see eventstore.reading.horizon).

The snapshot's xmin is cluster-wide: a long writing transaction in any other
database on the same server held every follower back. Only transactions of
this database can append events, so the horizon considers only them.

Why it is safe: `next` is the snapshot's xmax, taken as the statement starts;
every transaction that gets an id later has an id >= next. The running ids of
this database are then read live from the process array (the activity
snapshot is cleared first: it is otherwise cached for the whole transaction).
An id below the result was assigned before `next` was taken and was not
running when the ids were read, so it has finished, and any later statement's
snapshot sees its events. Running ids are 32-bit: they are widened against
`next`, and one assigned after `next` (it wraps to an age over 2^31) is
ignored, since it is >= next anyway. Prepared transactions count too.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION eventstore_horizon_xid() RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    oldest bigint;
BEGIN
    PERFORM pg_stat_clear_snapshot();
    WITH clock AS (
        SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next
    ),
    running AS (
        SELECT backend_xid AS xid FROM pg_stat_activity
        WHERE datname = current_database() AND backend_xid IS NOT NULL
        UNION ALL
        SELECT transaction FROM pg_prepared_xacts WHERE database = current_database()
    ),
    aged AS (
        SELECT (clock.next % 4294967296 - running.xid::text::bigint + 4294967296) % 4294967296 AS age
        FROM clock, running
    )
    SELECT least(clock.next, clock.next - (SELECT max(age) FROM aged WHERE age BETWEEN 1 AND 2147483647))
    INTO oldest FROM clock;
    RETURN oldest;
END
$$;
"""

DROP = "DROP FUNCTION IF EXISTS eventstore_horizon_xid();"


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0003_personal_data_keys")]

    operations = [migrations.RunSQL(CREATE, DROP)]
