"""An index for reads of the log filtered by `source` (the API's `?source=`, the explorer, the admin).

Without it, a page of a rare source walks the primary key until it finds
enough events: the whole log when there are few. Built CONCURRENTLY, so
appends go on while it is built on a long log (hence not atomic).
"""

from django.db import migrations


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("eventstore", "0007_personal_data_permission")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS eventstore_event_source_idx "
            "ON eventstore_event (source, position)",
            "DROP INDEX CONCURRENTLY IF EXISTS eventstore_event_source_idx",
        )
    ]
