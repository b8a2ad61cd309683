"""Reactions to events after commit, run by the subscriber machinery (at least once).

- "links": scan the URLs of community posts (docs/architecture.md, "The flows").
- "links-scanner": perform each requested scan, so scans run on the Celery
  workers that consume the log: a request can never be lost between the
  commit and a task queue.
"""

from __future__ import annotations

import logging
import uuid

from community_app.events import POST_CREATED, POST_UPDATED
from eventstore import RecordedEvent, Subscriber, register_subscriber

from .events import SCAN_REQUESTED
from .scanner import InvalidURL
from .services import link_scan_perform, link_scan_request

logger = logging.getLogger(__name__)


def scan_post_urls(event: RecordedEvent) -> None:
    """Request a scan, for this post, of each of its URLs without a recent result.

    Idempotent: on redelivery the scans requested the first time are recent
    (pending or completed) and answer instead of new requests.
    """
    urls = event.data.get("urls")
    if not urls:  # post_updated without a body change carries no URL list
        return
    post_id = uuid.UUID(str(event.data["post_id"]))
    for url in dict.fromkeys(urls):
        try:
            link_scan_request(url=url, post_id=post_id)
        except InvalidURL as exc:
            logger.warning("post %s: skipping URL the scanner refuses (%s)", post_id, exc)


def run_requested_scan(event: RecordedEvent) -> None:
    """Perform the scan that `link:scan_requested` asked for (nothing if already done)."""
    link_scan_perform(scan_id=uuid.UUID(str(event.data["scan_id"])))


community_posts_subscriber = register_subscriber(
    Subscriber(
        name="links",
        handlers={POST_CREATED: scan_post_urls, POST_UPDATED: scan_post_urls},
        description="Requests scans of the links in new and edited posts.",
    )
)
scanner_subscriber = register_subscriber(
    Subscriber(
        name="links-scanner",
        handlers={SCAN_REQUESTED: run_requested_scan},
        description="Runs each requested link scan and records its result.",
    )
)
