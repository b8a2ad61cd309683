"""Turn the model's probability and the rule findings into score, verdict, category.

The model already weighs every rule it saw during training (rule codes are
model features), so findings are not added a second time. What the model
cannot learn from a phishing data set — rare tricks such as homographs,
disguised IPs or ``.exe`` downloads — is guaranteed by *floors*: a ``high``
finding never lets a URL be called safe, and two of them make it malicious.
"""

from __future__ import annotations

from collections.abc import Sequence

from .results import Finding

SUSPICIOUS_RISK = 0.5  # risk at or above this is at least "suspicious"
MALICIOUS_RISK = 0.8  # and at or above this "malicious"
ONE_HIGH_FLOOR = 0.55
TWO_HIGH_FLOOR = 0.85
# Categories from findings, strongest first; a model-only flag is reported as
# phishing because that is what the model was trained to recognise.
CATEGORY_PRIORITY = ("malware", "phishing", "unwanted_software")
DEFAULT_CATEGORY = "phishing"


def combined_risk(
    model_probability: float, findings: Sequence[Finding], provider_floor: float = 0.0
) -> float:
    """Risk in [0, 1]: the model's probability, lifted to the floor the findings demand.

    The lift ``floor + (1 - floor) * p`` keeps the model's order among URLs that
    share a floor, so the score still ranks them.
    """
    high = sum(1 for finding in findings if finding.severity == "high")
    floor = TWO_HIGH_FLOOR if high >= 2 else ONE_HIGH_FLOOR if high == 1 else 0.0
    floor = max(floor, provider_floor)
    if floor == 0.0:
        return model_probability
    return floor + (1.0 - floor) * model_probability


def safety_score(risk: float) -> int:
    """0–100, 100 the safest."""
    return max(0, min(100, round(100 * (1.0 - risk))))


def verdict_for(risk: float) -> str:
    """safe / suspicious / malicious by fixed, documented risk thresholds."""
    if risk >= MALICIOUS_RISK:
        return "malicious"
    if risk >= SUSPICIOUS_RISK:
        return "suspicious"
    return "safe"


def threat_category(verdict: str, findings: Sequence[Finding]) -> str | None:
    """None when safe; otherwise the strongest category the findings point at."""
    if verdict == "safe":
        return None
    hinted = {finding.threat_category for finding in findings if finding.threat_category}
    return next((category for category in CATEGORY_PRIORITY if category in hinted), DEFAULT_CATEGORY)
