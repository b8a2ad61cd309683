"""Result types of a scan: small frozen dataclasses that serialise to dicts."""

from __future__ import annotations

from dataclasses import asdict, dataclass

SEVERITIES = ("info", "low", "medium", "high")
VERDICTS = ("safe", "suspicious", "malicious")


@dataclass(frozen=True, slots=True)
class Finding:
    """One explainable observation about a URL (``code`` is stable, documented in docs/scanner.md)."""

    code: str
    severity: str
    message: str
    threat_category: str | None = None  # what this finding hints at, used to pick the scan's category

    def as_dict(self) -> dict[str, str]:
        """The API shape: ``{code, severity, message}``."""
        return {"code": self.code, "severity": self.severity, "message": self.message}


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Outcome of scanning one URL. ``safety_score`` is 0–100, 100 the safest."""

    url: str
    normalized_url: str
    safety_score: int
    verdict: str
    threat_category: str | None
    findings: tuple[Finding, ...]
    model_score: float  # the learned model's probability that the URL is malicious

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form, findings in the API shape."""
        data = asdict(self)
        data["findings"] = [finding.as_dict() for finding in self.findings]
        return data
