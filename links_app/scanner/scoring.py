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

# The shipped operating points (docs/scanner.md, "Operating points"): chosen on
# domain-grouped cross-validation over three fold seeds (the mean of their picks,
# rounded up) so that "malicious", which flags posts, falls on at most 1 % of
# benign URLs. Settings may move them (configure_thresholds).
SUSPICIOUS_RISK = 0.77  # risk at or above this is at least "suspicious" (safety score <= 23)
MALICIOUS_RISK = 0.93  # and at or above this "malicious" (safety score <= 7)
ONE_HIGH_FLOOR = 0.55
TWO_HIGH_FLOOR = 0.85
# Categories from findings, strongest first; a model-only flag is reported as
# phishing because that is what the model was trained to recognise.
CATEGORY_PRIORITY = ("malware", "phishing", "unwanted_software")
DEFAULT_CATEGORY = "phishing"


_thresholds = {"suspicious": SUSPICIOUS_RISK, "malicious": MALICIOUS_RISK}


def configure_thresholds(*, malicious: float | None = None, suspicious: float | None = None) -> None:
    """Move the operating points (None keeps the shipped one); raises ValueError unless
    0 < suspicious <= malicious <= 1, so a typo in the environment stops start-up instead
    of silently flagging everything or nothing."""
    new_malicious = MALICIOUS_RISK if malicious is None else float(malicious)
    new_suspicious = SUSPICIOUS_RISK if suspicious is None else float(suspicious)
    if not 0.0 < new_suspicious <= new_malicious <= 1.0:
        raise ValueError(
            f"scanner thresholds need 0 < suspicious <= malicious <= 1 (got suspicious={new_suspicious}, malicious={new_malicious})"
        )
    _thresholds.update(malicious=new_malicious, suspicious=new_suspicious)


def thresholds() -> dict[str, float]:
    """The risk thresholds in use: ``{"suspicious": …, "malicious": …}``."""
    return dict(_thresholds)


def combined_risk(
    model_probability: float, findings: Sequence[Finding], provider_floor: float = 0.0
) -> float:
    """Risk in [0, 1]: the model's probability, lifted to the floor the findings demand.

    The lift ``floor + (1 - floor) * p`` keeps the model's order among URLs that
    share a floor, so the score still ranks them.
    """
    high = sum(1 for finding in findings if finding.severity == "high")
    # The floors keep their meaning when the thresholds move: one high finding is
    # never "safe", two are always "malicious".
    if high >= 2:
        floor = max(TWO_HIGH_FLOOR, _thresholds["malicious"])
    elif high == 1:
        floor = max(ONE_HIGH_FLOOR, _thresholds["suspicious"])
    else:
        floor = 0.0
    floor = max(floor, provider_floor)
    if floor == 0.0:
        return model_probability
    return floor + (1.0 - floor) * model_probability


def safety_score(risk: float) -> int:
    """0–100, 100 the safest."""
    return max(0, min(100, round(100 * (1.0 - risk))))


def verdict_for(risk: float) -> str:
    """safe / suspicious / malicious by the configured (documented) risk thresholds."""
    if risk >= _thresholds["malicious"]:
        return "malicious"
    if risk >= _thresholds["suspicious"]:
        return "suspicious"
    return "safe"


def threat_category(verdict: str, findings: Sequence[Finding]) -> str | None:
    """None when safe; otherwise the strongest category the findings point at."""
    if verdict == "safe":
        return None
    hinted = {finding.threat_category for finding in findings if finding.threat_category}
    return next((category for category in CATEGORY_PRIORITY if category in hinted), DEFAULT_CATEGORY)
