"""The operating points: configurable from settings, validated, and the floors keep their meaning."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from links_app.apps import configure_scanner_thresholds
from links_app.scanner import Finding
from links_app.scanner.scoring import (
    MALICIOUS_RISK,
    SUSPICIOUS_RISK,
    combined_risk,
    configure_thresholds,
    thresholds,
    verdict_for,
)

HIGH = Finding("ip_literal_host", "high", "x")


@pytest.fixture(autouse=True)
def shipped_thresholds_afterwards():
    yield
    configure_thresholds()


def test_the_shipped_thresholds_are_in_use_by_default():
    assert thresholds() == {"malicious": MALICIOUS_RISK, "suspicious": SUSPICIOUS_RISK}
    assert verdict_for(MALICIOUS_RISK) == "malicious"
    assert verdict_for(MALICIOUS_RISK - 0.001) == "suspicious"
    assert verdict_for(SUSPICIOUS_RISK - 0.001) == "safe"


def test_moved_thresholds_change_the_verdicts():
    configure_thresholds(malicious=0.95, suspicious=0.7)
    assert verdict_for(0.9) == "suspicious"
    assert verdict_for(0.6) == "safe"
    assert verdict_for(0.95) == "malicious"


def test_floors_follow_raised_thresholds():
    configure_thresholds(malicious=0.97, suspicious=0.9)
    assert verdict_for(combined_risk(0.0, [HIGH])) == "suspicious"
    assert verdict_for(combined_risk(0.0, [HIGH, HIGH])) == "malicious"


@pytest.mark.parametrize(
    ("malicious", "suspicious"), [(0.5, 0.8), (1.5, 0.5), (0.8, 0.0), (0.8, -0.1), (float("nan"), 0.5)]
)
def test_nonsense_thresholds_are_refused(malicious, suspicious):
    with pytest.raises(ValueError, match="0 < suspicious <= malicious <= 1"):
        configure_thresholds(malicious=malicious, suspicious=suspicious)
    assert thresholds() == {"malicious": MALICIOUS_RISK, "suspicious": SUSPICIOUS_RISK}


def test_settings_configure_them_and_bad_ones_stop_start_up(settings):
    settings.LINK_SCANNER_MALICIOUS_RISK = 0.9
    settings.LINK_SCANNER_SUSPICIOUS_RISK = None
    configure_scanner_thresholds()
    assert thresholds() == {"malicious": 0.9, "suspicious": SUSPICIOUS_RISK}

    settings.LINK_SCANNER_SUSPICIOUS_RISK = 0.95
    with pytest.raises(ImproperlyConfigured, match="suspicious <= malicious"):
        configure_scanner_thresholds()
