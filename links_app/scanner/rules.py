"""Run every rule over a URL and collect its findings."""

from __future__ import annotations

from .host_rules import HOST_RULES
from .lexical_rules import LEXICAL_RULES
from .results import Finding
from .urlview import UrlView

ALL_RULES = HOST_RULES + LEXICAL_RULES


def run_rules(view: UrlView) -> list[Finding]:
    """Findings of all rules, in rule order."""
    findings = []
    for rule in ALL_RULES:
        finding = rule(view)
        if finding is not None:
            findings.append(finding)
    return findings
