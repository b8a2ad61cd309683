"""Requesting a scan: one link per normalised URL, repeat requests answered from the last result."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.utils import timezone

from eventstore import ExpectedVersion, atomic_command, publish

from ..events import SCAN_REQUESTED, ScanRequested, link_stream
from ..models import Link, Scan, ScanStatus
from ..scanner import normalize_url, registered_domain
from .policy import is_recent, link_id_for


@dataclass(frozen=True)
class ScanRequestOutcome:
    """The scan that answers the request; `created` is False when an earlier scan answers it."""

    scan: Scan
    created: bool


def _answering_scan(link: Link) -> Scan | None:
    """A recent completed result, else a recent pending scan, of `link` (None: scan again)."""
    now = timezone.now()
    if link.result_scan_id and is_recent(link.last_scanned_at, now=now):
        return Scan.objects.select_related("link").get(id=link.result_scan_id)
    latest = Scan.objects.select_related("link").filter(id=link.latest_scan_id).first()
    if latest is not None and latest.status == ScanStatus.PENDING and is_recent(latest.requested_at, now=now):
        return latest
    return None


@atomic_command(retry_conflicts=True)
def link_scan_request(
    *,
    url: str,
    requested_by: int | None = None,
    rescan: bool = False,
    post_id: uuid.UUID | None = None,
) -> ScanRequestOutcome:
    """Ask for `url` to be scanned; records `link:scan_requested` unless an earlier scan answers.

    Without `rescan`, a completed result younger than LINK_RESCAN_AFTER (or a
    pending scan requested within it) answers instead, and nothing is recorded.
    Raises links_app.scanner.InvalidURL for unusable URLs (nothing recorded).
    Safe to rerun on a conflict: everything is re-derived from current state;
    the expected version makes concurrent first requests for one link agree.
    """
    normalized_url = normalize_url(url)
    link_id = link_id_for(normalized_url)
    link = Link.objects.filter(id=link_id).first()
    if link is not None and not rescan:
        answer = _answering_scan(link)
        if answer is not None:
            return ScanRequestOutcome(scan=answer, created=False)
    scan_id = uuid.uuid4()
    publish(
        SCAN_REQUESTED,
        stream_id=link_stream(link_id),
        data=ScanRequested(
            scan_id=scan_id,
            link_id=link_id,
            url=url.strip(),
            normalized_url=normalized_url,
            domain=registered_domain(normalized_url),
            requested_by=requested_by,
            post_id=post_id,
            rescan=rescan,
        ),
        expected_version=link.stream_version if link is not None else ExpectedVersion.NO_STREAM,
        metadata={"actor_id": requested_by} if requested_by is not None else None,
    )
    return ScanRequestOutcome(scan=Scan.objects.select_related("link").get(id=scan_id), created=True)
