"""Read models of the links app: projections of the `link-<uuid>` streams.

Written only by the handlers in `links_app/projections.py`; every time comes
from an event's `recorded_at`, so a rebuild from the log gives the same rows.
"""

from django.db import models


# Verdicts and categories are NULL, not "", while nothing has judged the link:
# the API and link_summaries() report that as null.
class Verdict(models.TextChoices):
    SAFE = "safe", "safe"
    SUSPICIOUS = "suspicious", "suspicious"
    MALICIOUS = "malicious", "malicious"


class ScanStatus(models.TextChoices):
    PENDING = "pending", "pending"
    COMPLETED = "completed", "completed"
    FAILED = "failed", "failed"


class Link(models.Model):
    """One link (one normalised URL), its latest scan result and a moderator's verdict.

    `status` is the status of the most recently requested scan; the result
    fields keep the latest *completed* result, so a pending rescan never hides
    a known verdict. `verdict` is the effective verdict: the moderator's when
    verified, the scanner's otherwise.
    """

    # uuid5 of the normalised URL: the same link gets the same id, whoever sees it first.
    id = models.UUIDField(primary_key=True, editable=False)
    url = models.TextField(help_text="The URL as first submitted.")
    normalized_url = models.TextField(unique=True)
    domain = models.CharField(max_length=255, db_index=True, help_text="Registered domain (or IP).")
    stream_version = models.IntegerField(default=0)

    latest_scan_id = models.UUIDField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=ScanStatus.choices, default=ScanStatus.PENDING)
    result_scan_id = models.UUIDField(null=True, blank=True)
    scan_verdict = models.CharField(max_length=16, choices=Verdict.choices, null=True, blank=True)  # noqa: DJ001
    safety_score = models.SmallIntegerField(null=True, blank=True)
    threat_category = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    findings = models.JSONField(default=list, blank=True)
    last_scanned_at = models.DateTimeField(null=True, blank=True)
    scan_count = models.IntegerField(default=0)

    verified_verdict = models.CharField(max_length=16, choices=Verdict.choices, null=True, blank=True)  # noqa: DJ001
    verified_note = models.TextField(blank=True, default="")
    verified_by_id = models.BigIntegerField(null=True, blank=True)
    verified_by_username = models.CharField(max_length=150, blank=True, default="")
    verified_at = models.DateTimeField(null=True, blank=True)

    verdict = models.CharField(  # noqa: DJ001
        max_length=16,
        choices=Verdict.choices,
        null=True,
        blank=True,
        db_index=True,
        help_text="Effective verdict.",
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-updated_at", "normalized_url"]

    def __str__(self) -> str:
        return self.normalized_url


class Scan(models.Model):
    """One scan of a link: requested, then completed or failed (and maybe retried)."""

    id = models.UUIDField(primary_key=True, editable=False)
    # A relation for the ORM, not a DB constraint: the projection's handlers keep the
    # rows consistent, and Postgres refuses to TRUNCATE (rebuild) a table whose deferred
    # FK checks are still pending in the same transaction.
    link = models.ForeignKey(Link, on_delete=models.DO_NOTHING, related_name="scans", db_constraint=False)
    url = models.TextField()
    normalized_url = models.TextField()
    status = models.CharField(max_length=16, choices=ScanStatus.choices, default=ScanStatus.PENDING)
    verdict = models.CharField(max_length=16, choices=Verdict.choices, null=True, blank=True)  # noqa: DJ001
    safety_score = models.SmallIntegerField(null=True, blank=True)
    threat_category = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    model_score = models.FloatField(null=True, blank=True)
    findings = models.JSONField(default=list, blank=True)

    requested_by_id = models.BigIntegerField(null=True, blank=True)
    post_id = models.UUIDField(null=True, blank=True)
    failed_attempts = models.IntegerField(default=0)
    failure_reason = models.TextField(blank=True, default="")
    next_retry_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # So a retry's events join the request's correlation chain, caused by the failure.
    request_correlation_id = models.UUIDField(null=True, blank=True)
    last_failure_event_id = models.UUIDField(null=True, blank=True)

    requested_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["link", "-requested_at"], name="links_scan_link_requested")]

    def __str__(self) -> str:
        return f"{self.normalized_url} ({self.status})"
