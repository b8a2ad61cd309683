"""Reads by stream go through the key table; the log keeps no (stream_id, stream_version) index (docs/eventstore.md).

The key table (migration 0011) holds every event's stream, version and position
under its unique (stream_id, stream_version) index, so the log's own index on
the same columns only repeated it: one more entry on a random page for every
append, and with it one more full-page image in the WAL after each checkpoint
(docs/benchmarks.md, issue 24). Readers of a stream now find its positions in
the key table and each event by its position in the partition that holds it.

Dropping an index of the partitioned log drops each partition's with it, and
locks the log while it does (no reads or appends for that moment): like
migration 0011, it gives up after a 10 s lock wait instead of queueing every
append behind a long reader.
"""

from django.db import migrations

FORWARD = """
SET LOCAL lock_timeout = '10s';
DROP INDEX IF EXISTS eventstore_event_stream_idx;
"""
# Going back builds the index again on every partition, holding off appends while it does.
BACKWARD = "CREATE INDEX IF NOT EXISTS eventstore_event_stream_idx ON eventstore_event (stream_id, stream_version);"


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0014_pruned_log_probes")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
