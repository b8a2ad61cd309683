"""Commands of the links app (each records its events in one transaction)."""

from .perform import link_scan_perform, link_scan_retry
from .policy import link_id_for
from .requests import ScanRequestOutcome, link_scan_request
from .verify import link_verify

__all__ = [
    "ScanRequestOutcome",
    "link_id_for",
    "link_scan_perform",
    "link_scan_request",
    "link_scan_retry",
    "link_verify",
]
