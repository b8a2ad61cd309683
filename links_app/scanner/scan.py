"""``scan_url``: normalise, run rules, score with the model, ask providers, combine."""

from __future__ import annotations

from dataclasses import replace

from .allowlist import COMMON_DOMAIN_RISK_CAP, common_domain_finding
from .features import numeric_features, token_features
from .model import load_model
from .normalize import normalize_parts
from .providers import (
    LISTED_MALICIOUS_FLOOR,
    LISTED_SUSPICIOUS_FLOOR,
    ThreatProvider,
    ask_providers,
    configured_providers,
)
from .redirects import redirect_destination
from .results import Finding, ScanResult
from .rules import run_rules
from .scoring import combined_risk, safety_score, threat_category, verdict_for
from .site_evidence import evidence_tokens
from .structure import structure_features, suffix_key
from .urlview import UrlView

MODEL_FINDING_THRESHOLD = 0.5  # report the model as a finding from this probability on


def _model_finding(probability: float, top_features: tuple[tuple[str, float], ...]) -> Finding | None:
    if probability < MODEL_FINDING_THRESHOLD:
        return None
    severity = "high" if probability >= 0.9 else "medium"
    signals = ", ".join(f"'{name.split(':', 1)[1]}'" for name, _ in top_features) or "its overall shape"
    return Finding(
        "model_lexical_risk",
        severity,
        f"The learned URL model rates this link {probability:.0%} likely malicious; strongest signals: {signals}.",
    )


def _provider_findings(normalized_url: str, providers: list[ThreatProvider]) -> tuple[list[Finding], float]:
    findings, floor = [], 0.0
    for answer in ask_providers(normalized_url, providers):
        if isinstance(answer, tuple):
            findings.append(
                Finding(
                    "provider_no_answer", "info", f"{answer[0]} gave no answer; this is not a sign of safety."
                )
            )
        elif answer.listed == "malicious":
            floor = max(floor, LISTED_MALICIOUS_FLOOR)
            findings.append(
                Finding(
                    "provider_listed_malicious",
                    "high",
                    f"{answer.provider} lists this link as malicious. {answer.detail}".strip(),
                    answer.threat_category,
                )
            )
        elif answer.listed == "suspicious":
            floor = max(floor, LISTED_SUSPICIOUS_FLOOR)
            findings.append(
                Finding(
                    "provider_listed_suspicious",
                    "medium",
                    f"{answer.provider} lists this link as suspicious. {answer.detail}".strip(),
                    answer.threat_category,
                )
            )
    return findings, floor


def _model_judgement(view: UrlView, findings: list[Finding]) -> tuple[float, float, list[Finding]]:
    """The model's probability (capped on a common domain), its raw value, and the findings
    that explain it (the model's own, the allow-list's)."""
    model_score = load_model().score(
        token_features(view, (f.code for f in findings)),
        numeric_features(view),
        structure_features(view, findings),
        suffix_key(view),
        evidence_tokens(view),
    )
    model_finding = _model_finding(model_score.probability, model_score.top_features)
    # On a very common domain the model's view is capped (a provider's listing still counts).
    common = common_domain_finding(view, findings)
    probability = min(model_score.probability, COMMON_DOMAIN_RISK_CAP) if common else model_score.probability
    return probability, model_score.probability, [f for f in (model_finding, common) if f]


def _destination_judgement(view: UrlView, destination: UrlView) -> tuple[float, float, list[Finding]]:
    """A forwarder's or sign-in page's risk is its destination's whole offline risk (rules,
    model, allow-list); the destination's findings explain it. One hop only: a destination
    that forwards again is judged by its own shape."""
    findings = run_rules(destination)
    probability, model_probability, explaining = _model_judgement(destination, findings)
    risk = combined_risk(probability, findings)
    where = Finding(
        "redirect_destination",
        "info",
        f"{view.host_without_www} only sends the reader on to {destination.parts.url};"
        " the link is judged by that destination.",
    )
    inherited = [replace(f, message=f"At the destination: {f.message}") for f in (*findings, *explaining)]
    return risk, model_probability, [where, *inherited]


def scan_url(url: str, providers: list[ThreatProvider] | None = None) -> ScanResult:
    """Scan one URL offline (plus configured providers, none by default).

    ``url`` may be raw or already normalised; passing the raw input keeps
    more evidence (e.g. a disguised IP spelling). Raises InvalidURL.
    """
    view = UrlView(normalize_parts(url), url)
    findings = run_rules(view)
    destination = redirect_destination(view)
    if destination is None:
        probability, model_probability, explaining = _model_judgement(view, findings)
    else:
        probability, model_probability, explaining = _destination_judgement(view, destination)
    provider_list = configured_providers() if providers is None else providers
    provider_findings, provider_floor = (
        _provider_findings(view.parts.url, provider_list) if provider_list else ([], 0.0)
    )
    rule_findings = findings + provider_findings
    risk = combined_risk(probability, rule_findings, provider_floor)
    verdict = verdict_for(risk)
    all_findings = tuple(rule_findings + explaining)
    return ScanResult(
        url=url,
        normalized_url=view.parts.url,
        safety_score=safety_score(risk),
        verdict=verdict,
        threat_category=threat_category(verdict, all_findings),
        findings=all_findings,
        model_score=round(model_probability, 4),
    )
