"""Keeping positions ahead of the log when it arrives from another cluster (migration 0006).

A log restored with pg_restore, or moved by logical replication, carries
positions numbered by the old cluster's transaction ids; the new cluster's ids
are far lower. Every new connection of the platform asks the database to catch
its stored base up before the connection runs anything else, so no append can
take a position below the restored log (and so below the restored relay and
subscriber checkpoints). On the cluster that wrote the log the check finds it
ahead and writes nothing: one statement per new connection, off the append's path.

It covers every move the operator makes with the platform stopped or its
connections closed (docs/deploy.md says so): a connection opened before the
log arrived would not be checked again.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from . import partitions

# A DO block, so a connection that runs the migrations before 0005 (or on an empty
# database) is not refused for lack of the function.
CATCH_UP_SQL = """
DO $$ BEGIN
    IF to_regprocedure('eventstore_catch_up_positions()') IS NOT NULL THEN
        PERFORM eventstore_catch_up_positions();
    END IF;
END $$
"""


def catch_up(connection) -> None:
    """Raise the stored base if this cluster's transaction ids are behind the log it holds."""
    with connection.cursor() as cursor:
        cursor.execute(CATCH_UP_SQL)


@receiver(connection_created, dispatch_uid="eventstore.positions.catch_up")
def catch_up_on_connect(sender, connection, **_kwargs) -> None:
    # Only the primary appends; a read replica cannot (and need not) write the base.
    if connection.alias == DEFAULT_DB_ALIAS and connection.vendor == "postgresql":
        catch_up(connection)
        # The base may just have moved the positions: the partitions follow (eventstore.partitions).
        partitions.ensure_ahead(connection)
