"""The event table (created by raw SQL in migration 0001, partitioned in 0010) and checkpoints.

`Event` is unmanaged: the migrations own its exact DDL (position scheme,
immutability triggers, partitions, the key table that keeps `id` and the
stream version unique), and Django's test flush never tries to TRUNCATE it,
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
        # Staff read the log; reading the personal values in it takes this too (eventstore.privacy.redaction).
        permissions = [
            (
                "view_personal_data",
                "Can read personal data in events (emails, ips, user agents, typed usernames)",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.position} {self.type} {self.stream_id}@{self.stream_version}"


class Checkpoint(models.Model):
    """How far a follower of the log (the relay, a projection, a subscriber) has got."""

    name = models.CharField(max_length=200, primary_key=True)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)
    # A subscriber's delivery ledger covers the events after this position (those at or
    # below it were handled before the ledger existed, or applied by a rebuild).
    ledger_from = models.BigIntegerField(db_default=0)

    def __str__(self) -> str:
        return f"{self.name} @ {self.position}"


class ParkedEvent(models.Model):
    """An event a subscriber kept failing on: set aside with its error until retried.

    Later events of the same stream are parked behind it (reason says so), so a
    subscriber never sees a stream out of order; other streams go on.
    """

    subscriber = models.CharField(max_length=100)
    event_id = models.UUIDField()
    position = models.BigIntegerField()
    stream_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=100)
    error = models.TextField()
    attempts = models.PositiveIntegerField(default=0)
    parked_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "event_id"], name="parked_event_once_per_subscriber"
            )
        ]
        indexes = [models.Index(fields=["subscriber", "stream_id", "resolved_at"])]

    def __str__(self) -> str:
        return f"{self.subscriber}: {self.event_type} #{self.position}"


class EventStat(models.Model):
    """Event statistics projection: how many events of a type and source per minute."""

    minute = models.DateTimeField()
    type = models.CharField(max_length=100)
    source = models.CharField(max_length=50)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["minute", "type", "source"], name="event_stat_key")]
        indexes = [models.Index(fields=["minute"])]

    def __str__(self) -> str:
        return f"{self.minute:%Y-%m-%d %H:%M} {self.type}: {self.count}"


class PersonalDataKey(models.Model):
    """One data subject's data key, wrapped by the master key (eventstore.privacy).

    Forgetting the subject sets `wrapped_key` to NULL and keeps the row as a
    tombstone, so no new key is ever made for it: personal values recorded
    later for a forgotten subject are stored already erased.
    """

    subject = models.CharField(max_length=200, primary_key=True)
    wrapped_key = models.BinaryField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    forgotten_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.subject} ({'forgotten' if self.forgotten_at else 'active'})"


class DeliveryLedger(models.Model):
    """What one subscriber partition handled in one bucket of positions (eventstore.delivery_ledger).

    `handled` counts the events whose effects committed; `digest` is the XOR of
    their ids' 64-bit digests. Written in the handler's own transaction.
    """

    checkpoint = models.CharField(max_length=200)
    bucket = models.BigIntegerField()
    handled = models.BigIntegerField(default=0)
    digest = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["checkpoint", "bucket"], name="delivery_ledger_key")]

    def __str__(self) -> str:
        return f"{self.checkpoint} bucket {self.bucket}: {self.handled}"


class DeliveryCheck(models.Model):
    """The last `verify_delivery` result of one subscriber (shown in /metrics and on the dashboard)."""

    subscriber = models.CharField(max_length=100, primary_key=True)
    checked_at = models.DateTimeField()
    verified_up_to = models.BigIntegerField()
    checked_events = models.BigIntegerField()
    missed = models.BigIntegerField()
    doubled = models.BigIntegerField()
    parked = models.BigIntegerField()
    # Up to a few findings, each {"kind", "partition", "positions" or "event_id", ...}: no payloads.
    findings = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"{self.subscriber}: {self.missed} missed, {self.doubled} doubled"


class ProjectionVersion(models.Model):
    """The version of a projection's code that last built its live tables (eventstore.projection_versions).

    A projection without a row was built by its version 1.
    """

    name = models.CharField(max_length=200, primary_key=True)
    version = models.PositiveIntegerField()
    rebuilt_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class ErasureReceipt(models.Model):
    """What forgetting one subject erased and where it then looked for readable copies (docs/privacy.md).

    Free of personal data by construction: the subject is its key name
    (`user-<id>`), `requested_by_id` a user id, and `erased` and `checks` hold
    counts, place names (tables, Redis keys, log files), positions and
    statuses, never a value that was looked for.
    """

    subject = models.CharField(max_length=200, db_index=True)
    requested_by_id = models.BigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    passed = models.BooleanField()
    # {"what": count or flag, ...}: keys destroyed, sealed values now unreadable, account row scrubbed.
    erased = models.JSONField(default=dict)
    # [{"place", "status", "checked", "found", "detail"}]; status: passed, failed, not_stored, none_configured.
    checks = models.JSONField(default=list)

    class Meta:
        ordering = ["-finished_at"]

    def __str__(self) -> str:
        return f"{self.subject} {'erased' if self.passed else 'NOT confirmed'} at {self.finished_at:%Y-%m-%d %H:%M}"


class PersonalDataView(models.Model):
    """One page or API answer that showed a staff account personal values (eventstore.privacy.disclosures).

    Names where, which events and subjects, and which fields; never the values.
    """

    viewer_id = models.BigIntegerField(db_index=True)
    viewed_at = models.DateTimeField(db_index=True)
    place = models.CharField(max_length=100)  # e.g. "explorer:stream", "api:events", "admin:event"
    reference = models.CharField(max_length=200, blank=True)  # the stream, correlation or event asked for
    subjects = models.JSONField(default=list)  # key names, e.g. ["user-7"]
    event_ids = models.JSONField(default=list)
    field_names = models.JSONField(default=list)  # e.g. ["data.email", "metadata.ip"]

    class Meta:
        ordering = ["-viewed_at"]

    def __str__(self) -> str:
        return f"user {self.viewer_id} viewed {', '.join(self.field_names)} at {self.place}"
