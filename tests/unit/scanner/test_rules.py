import pytest

from links_app.scanner.normalize import normalize_parts
from links_app.scanner.rules import run_rules
from links_app.scanner.urlview import UrlView


def codes(url: str) -> dict[str, str]:
    return {f.code: f.severity for f in run_rules(UrlView(normalize_parts(url), url))}


@pytest.mark.parametrize(
    ("url", "code", "severity"),
    [
        ("http://8.8.8.8/login", "ip_literal_host", "high"),
        ("http://192.168.0.10/", "private_ip_host", "high"),
        ("http://134744072/", "obfuscated_ip_host", "high"),
        ("http://www.paypal.com@evil.example/", "userinfo_in_url", "high"),
        ("http://user@evil.example/", "userinfo_in_url", "medium"),
        ("http://bücher.de/", "punycode_host", "low"),
        ("http://pаypal.com/", "homograph_host", "high"),
        ("http://аррӏе.com/", "homograph_host", "high"),
        ("http://paypal.com.secure-check.net/", "brand_outside_domain", "high"),
        ("http://example.net/netflix/signin", "brand_in_path", "medium"),
        ("http://paypa1.com/", "brand_lookalike_domain", "high"),
        ("http://free-prizes.tk/", "suspicious_tld", "medium"),
        ("https://bit.ly/3abc", "url_shortener", "medium"),
        ("http://a.b.c.d.example.com/", "deep_subdomain", "medium"),
        ("http://a.b.c.example.com/", "deep_subdomain", "low"),
        ("https://alice.github.io/", "shared_hosting_site", "info"),
        ("http://my-very-long-bad-name.com/", "many_hyphens_in_host", "low"),
        ("http://example.com:8080/", "non_standard_port", "medium"),
        ("http://example.com/account/login", "credential_keywords", "medium"),
        ("http://example.com/login", "credential_keywords", "low"),
        ("http://secure-login.example.com/", "credential_keywords", "medium"),
        ("http://example.com/" + "a" * 120, "long_url", "low"),
        ("http://example.com/" + "a" * 220, "long_url", "medium"),
        ("http://example.com/setup.exe", "executable_download", "high"),
        ("http://example.com/files.zip", "archive_download", "medium"),
        ("http://example.com/invoice.pdf.exe", "double_extension", "high"),
        ("http://example.com/office-keygen", "unwanted_software_words", "medium"),
        ("http://example.com/r?u=https%3A%2F%2Fevil.example", "embedded_url", "low"),
        ("http://example.com/" + "%C3%A9" * 5, "heavy_percent_encoding", "low"),
        ("http://example.com/", "no_tls", "info"),
    ],
)
def test_rule_fires(url, code, severity):
    assert codes(url).get(code) == severity


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://example.com/", "ip_literal_host"),
        ("https://example.com/", "userinfo_in_url"),
        ("https://example.com/", "punycode_host"),
        ("https://bücher.de/", "homograph_host"),  # real German word, single script
        ("https://www.paypal.com/signin", "brand_outside_domain"),
        ("https://www.applebees.com/", "brand_outside_domain"),  # token brand inside a longer word
        ("https://discussions.apple.com/thread/1", "brand_in_path"),
        ("https://paypal.com/", "brand_lookalike_domain"),
        ("https://example.com/", "suspicious_tld"),
        ("https://example.com/", "url_shortener"),
        ("https://www.a.example.com/", "deep_subdomain"),
        ("https://example.com/", "shared_hosting_site"),
        ("https://my-site.com/", "many_hyphens_in_host"),
        ("https://example.com:443/", "non_standard_port"),
        ("https://example.com/blog/post", "credential_keywords"),
        ("https://example.com/short", "long_url"),
        ("https://example.com/report.pdf", "executable_download"),
        ("https://example.com/report.pdf", "double_extension"),
        ("https://example.com/news", "unwanted_software_words"),
        ("https://example.com/a?b=c", "embedded_url"),
        ("https://example.com/%20", "heavy_percent_encoding"),
        ("https://example.com/", "no_tls"),
    ],
)
def test_rule_does_not_fire(url, code):
    assert code not in codes(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://google.co.in/",
        "https://books.google.com.et/books?id=KpY1hpKKwdQC",
        "https://www.google.td/?gws_rd=ssl",
        "https://www.amazon.com.br/",
        "https://www.visa.co.il/",
    ],
)
def test_a_brand_on_its_own_name_under_a_country_suffix_is_its_own(url):
    assert "brand_outside_domain" not in codes(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://www.googlefeud.com/",  # a longer label is not the brand's name
        "https://google.xyz/",  # a generic suffix
        "https://google.com.secure-check.co.in/",  # the brand's name in a subdomain
        "https://paypal.co.in/",  # a brand not known to run sites under country suffixes
        "https://google.blogspot.com/",  # a platform user's site, not the brand's domain
    ],
)
def test_a_brand_elsewhere_is_still_foreign(url):
    assert codes(url).get("brand_outside_domain") == "high"
