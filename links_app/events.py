"""Event types of this app (registered with the event store on import).

Every event of a link goes on its stream `link-<link uuid>`; the scan it
belongs to is named by `scan_id` in the data.
"""

from __future__ import annotations

import uuid
from typing import Literal

from eventstore import EventData, define_event

VerdictName = Literal["safe", "suspicious", "malicious"]
SeverityName = Literal["info", "low", "medium", "high"]


def link_stream(link_id: uuid.UUID | str) -> str:
    return f"link-{link_id}"


class ScanRequested(EventData):
    """Someone (a user, or the links subscriber for a post) asked for a link to be scanned."""

    scan_id: uuid.UUID
    link_id: uuid.UUID
    url: str
    normalized_url: str
    domain: str
    requested_by: int | None = None
    post_id: uuid.UUID | None = None
    rescan: bool = False


class ScanCompleted(EventData):
    """The scanner finished a scan: its safety score (0–100, 100 safest) and verdict."""

    scan_id: uuid.UUID
    link_id: uuid.UUID
    normalized_url: str
    safety_score: int
    verdict: VerdictName
    threat_category: str | None = None
    model_score: float
    attempt: int = 1


class FindingData(EventData):
    """One explainable observation of the scanner."""

    code: str
    severity: SeverityName
    message: str


class SecurityAnalysis(EventData):
    """Every finding of a completed scan, with its code, severity and explanation."""

    scan_id: uuid.UUID
    link_id: uuid.UUID
    findings: list[FindingData]


class ThreatDetected(EventData):
    """A scan judged the link suspicious or malicious.

    `moderator_verdict` is the link's verified verdict at that moment (null if
    none): a moderator's verdict overrides the scanner's, so readers reacting
    to this event should let it win.
    """

    scan_id: uuid.UUID
    link_id: uuid.UUID
    normalized_url: str
    verdict: Literal["suspicious", "malicious"]
    threat_category: str
    safety_score: int
    moderator_verdict: VerdictName | None = None


class ScanFailed(EventData):
    """A scan crashed. `retry_in_seconds` is the backoff before the next attempt (null: no more)."""

    scan_id: uuid.UUID
    link_id: uuid.UUID
    normalized_url: str
    reason: str
    attempt: int
    retry_in_seconds: int | None = None


class LinkVerified(EventData):
    """A moderator judged the link by hand; this verdict overrides the scanner's everywhere."""

    link_id: uuid.UUID
    normalized_url: str
    verdict: VerdictName
    note: str = ""
    verified_by: int
    verified_by_username: str = ""
    previous_verdict: VerdictName | None = None


SCAN_REQUESTED = define_event("link:scan_requested", ScanRequested, source="links")
SCAN_COMPLETED = define_event("link:scan_completed", ScanCompleted, source="links")
SECURITY_ANALYSIS = define_event("link:security_analysis", SecurityAnalysis, source="links")
THREAT_DETECTED = define_event("link:threat_detected", ThreatDetected, source="links")
SCAN_FAILED = define_event("link:scan_failed", ScanFailed, source="links")
LINK_VERIFIED = define_event("link:link_verified", LinkVerified, source="links")
