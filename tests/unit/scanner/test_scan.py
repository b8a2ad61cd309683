import socket

import pytest

from links_app.scanner import Finding, InvalidURL, ProviderAnswer, ScanResult, scan_url
from links_app.scanner.domains import split_host
from links_app.scanner.model import WEIGHTS_PATH, load_model
from links_app.scanner.scoring import combined_risk, threat_category, verdict_for


def test_model_file_is_small_and_loads():
    assert WEIGHTS_PATH.stat().st_size < 2 * 1024 * 1024
    model = load_model()
    assert len(model.token_weights) > 1000


def test_model_ranks_a_phishing_shaped_url_above_a_plain_homepage():
    phishy = scan_url("http://paypal.com.account-verify.secure-login.tk/webscr/cmd=_login-submit/index.php")
    plain = scan_url("https://www.wikipedia.org/")
    assert phishy.model_score > 0.9 > 0.2 > plain.model_score
    assert phishy.verdict == "malicious" and phishy.threat_category == "phishing"
    assert plain.verdict == "safe" and plain.threat_category is None and plain.safety_score >= 80


def test_scan_result_shape_and_as_dict():
    result = scan_url("HTTP://Example.COM:80/a/../b")
    assert isinstance(result, ScanResult)
    assert result.url == "HTTP://Example.COM:80/a/../b"
    assert result.normalized_url == "http://example.com/b"
    assert 0 <= result.safety_score <= 100
    data = result.as_dict()
    assert set(data["findings"][0]) == {"code", "severity", "message"}
    with pytest.raises(AttributeError):
        result.verdict = "safe"  # frozen


def test_model_finding_explains_its_signals():
    result = scan_url("http://secure-update-account.example.tk/login/verify.php")
    model_finding = next(f for f in result.findings if f.code == "model_lexical_risk")
    assert "likely malicious" in model_finding.message and "'" in model_finding.message


def test_scan_url_rejects_invalid_input():
    with pytest.raises(InvalidURL):
        scan_url("javascript:alert(document.cookie)")


def test_one_high_finding_never_leaves_a_url_safe():
    high = [Finding("homograph_host", "high", "x")]
    assert verdict_for(combined_risk(0.0, high)) == "suspicious"
    assert verdict_for(combined_risk(0.0, high * 2)) == "malicious"
    assert verdict_for(combined_risk(0.0, [Finding("no_tls", "info", "x")])) == "safe"


def test_floor_keeps_model_order():
    high = [Finding("homograph_host", "high", "x")]
    assert combined_risk(0.1, high) < combined_risk(0.3, high)


def test_threat_category_prefers_malware_and_is_none_when_safe():
    findings = [Finding("a", "high", "x", "phishing"), Finding("b", "high", "x", "malware")]
    assert threat_category("malicious", findings) == "malware"
    assert threat_category("safe", findings) is None
    assert threat_category("suspicious", []) == "phishing"


class _Provider:
    def __init__(self, answer=None, error=False):
        self.name, self.answer, self.error = "fake", answer, error

    def lookup(self, normalized_url):
        if self.error:
            raise TimeoutError("slow")
        return self.answer


def test_provider_listing_makes_a_safe_looking_url_malicious():
    answer = ProviderAnswer("fake", "malicious", "malware", "listed")
    result = scan_url("https://www.wikipedia.org/", providers=[_Provider(answer)])
    assert result.verdict == "malicious" and result.threat_category == "malware"


@pytest.mark.parametrize(
    "provider", [_Provider(None), _Provider(error=True), _Provider(ProviderAnswer("fake", "not_listed"))]
)
def test_no_provider_answer_never_raises_the_score(provider):
    url = "http://secure-update-account.example.tk/login/verify.php"
    alone = scan_url(url, providers=[])
    with_provider = scan_url(url, providers=[provider])
    assert with_provider.safety_score == alone.safety_score


def test_providers_are_off_by_default(monkeypatch):
    monkeypatch.delenv("LINK_SCANNER_PROVIDERS", raising=False)
    result = scan_url("https://www.wikipedia.org/")
    assert not any(f.code.startswith("provider_") for f in result.findings)


def test_scanning_never_opens_a_socket(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    split_host.cache_clear()
    from links_app.scanner import domains

    domains._EXTRACTOR._extractor = None  # force tldextract to load its suffix list again
    scan_url("https://some-new-host.example.co.uk/path")
    assert domains.split_host("x.example.co.uk").registered_domain == "example.co.uk"
