"""The event log: exact DDL, indexes for its readers, and immutability triggers.

Position scheme (see docs/eventstore.md): position = top-level transaction id
<< 20 | order within the transaction. Followers read below the snapshot's
xmin, so positions increase in exactly the order followers see events.
"""

from django.db import migrations, models

CREATE_EVENT_TABLE = """
CREATE TABLE eventstore_event (
    position        bigint       PRIMARY KEY,
    id              uuid         NOT NULL,
    stream_id       varchar(200) NOT NULL CHECK (stream_id <> ''),
    stream_version  integer      NOT NULL CHECK (stream_version > 0),
    type            varchar(100) NOT NULL CHECK (type LIKE '%:%'),
    schema_version  smallint     NOT NULL CHECK (schema_version > 0),
    data            jsonb        NOT NULL,
    metadata        jsonb        NOT NULL DEFAULT '{}'::jsonb,
    source          varchar(50)  NOT NULL,
    correlation_id  uuid         NOT NULL,
    causation_id    uuid,
    recorded_at     timestamptz  NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT eventstore_event_id_key UNIQUE (id),
    CONSTRAINT eventstore_event_stream_version_key UNIQUE (stream_id, stream_version)
);
CREATE INDEX eventstore_event_correlation_idx ON eventstore_event (correlation_id, position);
CREATE INDEX eventstore_event_type_idx ON eventstore_event (type, position);
CREATE INDEX eventstore_event_recorded_at_idx ON eventstore_event USING brin (recorded_at);

CREATE FUNCTION eventstore_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'eventstore_event is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Events are immutable; record a new event instead.';
END;
$$;
CREATE TRIGGER eventstore_event_no_update_delete
    BEFORE UPDATE OR DELETE ON eventstore_event
    FOR EACH ROW EXECUTE FUNCTION eventstore_refuse_change();
CREATE TRIGGER eventstore_event_no_truncate
    BEFORE TRUNCATE ON eventstore_event
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore_refuse_change();
"""

DROP_EVENT_TABLE = """
DROP TABLE eventstore_event;
DROP FUNCTION eventstore_refuse_change();
"""


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.RunSQL(
            CREATE_EVENT_TABLE,
            DROP_EVENT_TABLE,
            state_operations=[
                migrations.CreateModel(
                    name="Event",
                    fields=[
                        ("position", models.BigIntegerField(primary_key=True, serialize=False)),
                        ("id", models.UUIDField(editable=False, unique=True)),
                        ("stream_id", models.CharField(max_length=200)),
                        ("stream_version", models.IntegerField()),
                        ("type", models.CharField(max_length=100)),
                        ("schema_version", models.SmallIntegerField()),
                        ("data", models.JSONField()),
                        ("metadata", models.JSONField(default=dict)),
                        ("source", models.CharField(max_length=50)),
                        ("correlation_id", models.UUIDField()),
                        ("causation_id", models.UUIDField(null=True)),
                        ("recorded_at", models.DateTimeField()),
                    ],
                    options={"db_table": "eventstore_event", "ordering": ["position"], "managed": False},
                ),
            ],
        ),
        migrations.CreateModel(
            name="Checkpoint",
            fields=[
                ("name", models.CharField(max_length=200, primary_key=True, serialize=False)),
                ("position", models.BigIntegerField(default=0)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
    ]
