"""Input and output shapes of the links API (API.md, "Links")."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import Link, Scan, Verdict
from .scanner import InvalidURL, normalize_url, registered_domain
from .services.verify import MAX_NOTE_LENGTH


class ScanRequestInputSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="An http(s) URL of at most 2,048 characters.")
    rescan = serializers.BooleanField(
        default=False,
        help_text="Scan again even when a recent result exists (within LINK_RESCAN_AFTER, 24 h).",
    )

    def validate_url(self, value: str) -> str:
        try:
            normalize_url(value)
        except InvalidURL as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value


class LinkFilterSerializer(serializers.Serializer):
    domain = serializers.CharField(required=False, help_text="Registered domain, e.g. example.co.uk.")
    verdict = serializers.ChoiceField(choices=Verdict.choices, required=False, help_text="Effective verdict.")

    def validate_domain(self, value: str) -> str:
        url = value if "://" in value else f"http://{value}"
        try:
            return registered_domain(url)
        except InvalidURL as exc:
            raise serializers.ValidationError(f"Not a domain name: {exc}") from exc


class VerifyInputSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    note = serializers.CharField(max_length=MAX_NOTE_LENGTH, allow_blank=True, required=False, default="")


class FindingSerializer(serializers.Serializer):
    code = serializers.CharField()
    severity = serializers.CharField()
    message = serializers.CharField()


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class VerificationSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    note = serializers.CharField()
    by = UserRefSerializer()
    at = serializers.DateTimeField()


def verification_of(link: Link) -> dict | None:
    if not link.verified_verdict:
        return None
    return {
        "verdict": link.verified_verdict,
        "note": link.verified_note,
        "by": {"id": link.verified_by_id, "username": link.verified_by_username},
        "at": link.verified_at,
    }


class ScanOutputSerializer(serializers.Serializer):
    """A scan. `verdict` is the moderator's when the link is verified, else the scanner's."""

    id = serializers.UUIDField()
    link_id = serializers.UUIDField()
    url = serializers.CharField()
    normalized_url = serializers.CharField()
    status = serializers.CharField()
    verdict = serializers.SerializerMethodField()
    scanner_verdict = serializers.CharField(source="verdict", allow_null=True)
    safety_score = serializers.IntegerField(allow_null=True)
    threat_category = serializers.CharField(allow_null=True)
    findings = FindingSerializer(many=True)
    verified = serializers.SerializerMethodField()
    failure_reason = serializers.CharField()
    failed_attempts = serializers.IntegerField()
    requested_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(serializers.ChoiceField(choices=Verdict.choices, allow_null=True))
    def get_verdict(self, scan: Scan) -> str | None:
        return scan.link.verified_verdict or scan.verdict

    @extend_schema_field(VerificationSerializer(allow_null=True))
    def get_verified(self, scan: Scan) -> dict | None:
        return verification_of(scan.link)


class LinkSafetySerializer(serializers.Serializer):
    """A link with its latest completed result; `verdict` is the effective one."""

    id = serializers.UUIDField()
    url = serializers.CharField()
    normalized_url = serializers.CharField()
    domain = serializers.CharField()
    status = serializers.CharField(help_text="Status of the most recently requested scan.")
    verdict = serializers.CharField(
        allow_null=True, help_text="The moderator's verdict if verified, else the scanner's."
    )
    scanner_verdict = serializers.CharField(source="scan_verdict", allow_null=True)
    safety_score = serializers.IntegerField(allow_null=True)
    threat_category = serializers.CharField(allow_null=True)
    findings = FindingSerializer(many=True)
    verified = serializers.SerializerMethodField()
    latest_scan_id = serializers.UUIDField(allow_null=True)
    scan_count = serializers.IntegerField()
    last_scanned_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(VerificationSerializer(allow_null=True))
    def get_verified(self, link: Link) -> dict | None:
        return verification_of(link)
