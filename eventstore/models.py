"""The event table (created by raw SQL in migration 0001) and checkpoints.

`Event` is unmanaged: the migration owns its exact DDL (position scheme,
immutability triggers), and Django's test flush never tries to TRUNCATE it,
which the database would refuse anyway.
"""

from django.db import models


class Event(models.Model):
    position = models.BigIntegerField(primary_key=True)
    id = models.UUIDField(unique=True, editable=False)
    stream_id = models.CharField(max_length=200)
    stream_version = models.IntegerField()
    type = models.CharField(max_length=100)
    schema_version = models.SmallIntegerField()
    data = models.JSONField()
    metadata = models.JSONField(default=dict)
    source = models.CharField(max_length=50)
    correlation_id = models.UUIDField()
    causation_id = models.UUIDField(null=True)
    recorded_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "eventstore_event"
        ordering = ["position"]

    def __str__(self) -> str:
        return f"#{self.position} {self.type} {self.stream_id}@{self.stream_version}"


class Checkpoint(models.Model):
    """How far a follower of the log (the relay, a projection, a subscriber) has got."""

    name = models.CharField(max_length=200, primary_key=True)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.position}"
