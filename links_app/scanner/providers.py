"""Optional reputation providers (Google Safe Browsing / VirusTotal style).

OFF by default: no provider is configured, so scanning never leaves the
machine. A provider can only make a verdict *worse*. "No answer" — not
configured, timed out, error, or "not listed" — is never evidence of safety:
block lists are incomplete and new phishing pages are unlisted for hours.
Hence ``ProviderAnswer`` has no "safe" value that could raise a score.

Configure by calling ``configure_providers([...])`` at start-up, or set the
environment variable ``LINK_SCANNER_PROVIDERS`` to comma-separated dotted paths
of zero-argument factories returning a provider.
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass
from typing import Protocol

logger = logging.getLogger(__name__)
ENV_VARIABLE = "LINK_SCANNER_PROVIDERS"
LISTED_MALICIOUS_FLOOR = 0.95
LISTED_SUSPICIOUS_FLOOR = 0.55


@dataclass(frozen=True, slots=True)
class ProviderAnswer:
    """A provider's opinion. ``listed`` is ``malicious``, ``suspicious`` or ``not_listed``."""

    provider: str
    listed: str
    threat_category: str | None = None
    detail: str = ""


class ThreatProvider(Protocol):
    """What a provider implements. ``lookup`` may return None for "no answer"."""

    name: str

    def lookup(self, normalized_url: str) -> ProviderAnswer | None:
        """Look the URL up; must not raise for ordinary network trouble (return None)."""


_configured: list[ThreatProvider] | None = None


def configure_providers(providers: list[ThreatProvider]) -> None:
    """Replace the configured providers (an empty list turns them off)."""
    global _configured
    _configured = list(providers)


def configured_providers() -> list[ThreatProvider]:
    """Providers in use: those configured in code, else those named in the environment."""
    global _configured
    if _configured is None:
        paths = [p.strip() for p in os.environ.get(ENV_VARIABLE, "").split(",") if p.strip()]
        _configured = [_load_factory(path)() for path in paths]
    return _configured


def _load_factory(dotted_path: str):
    module_name, _, attribute = dotted_path.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def ask_providers(
    normalized_url: str, providers: list[ThreatProvider]
) -> list[ProviderAnswer | tuple[str, None]]:
    """Ask each provider; an exception is logged and recorded as "no answer"."""
    answers: list[ProviderAnswer | tuple[str, None]] = []
    for provider in providers:
        try:
            answer = provider.lookup(normalized_url)
        except Exception:  # a broken provider must not break scanning
            logger.exception("link provider %s failed", provider.name)
            answer = None
        answers.append(answer if answer is not None else (provider.name, None))
    return answers
