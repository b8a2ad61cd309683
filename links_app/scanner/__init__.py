"""Offline link-safety scanner: URL normalisation, explainable rules, a small learned model.

Public API::

    from links_app.scanner import normalize_url, InvalidURL, scan_url, registered_domain
"""

from ..errors import InvalidURL
from .domains import registered_domain
from .normalize import normalize_url
from .providers import ProviderAnswer, ThreatProvider, configure_providers
from .results import Finding, ScanResult
from .scan import scan_url

__all__ = [
    "Finding",
    "InvalidURL",
    "ProviderAnswer",
    "ScanResult",
    "ThreatProvider",
    "configure_providers",
    "normalize_url",
    "registered_domain",
    "scan_url",
]
