"""The allow-list of common domains: shipped in the package, and no shelter for abused platforms."""

import pytest

from links_app.scanner import ProviderAnswer, scan_url
from links_app.scanner.allowlist import DOMAINS_PATH, USER_CONTENT_HOSTS, common_domains
from links_app.scanner.domains import split_host
from links_app.scanner.lists import URL_SHORTENERS

# A busy sign-in URL the model alone rates as near-certain phishing.
BUSY_LOGIN_PATH = (
    "/en-us/account/signin/verify/update/secure/login.php?session=8f7a6c5d4e3b2a1908f7&confirm=account"
)
# Platforms where anyone can publish under the platform's name (general knowledge, not the dev data).
USER_PUBLISHING_PLATFORMS = {
    "blogspot.com",
    "wordpress.com",
    "weebly.com",
    "wixsite.com",
    "github.io",
    "githubusercontent.com",
    "dropbox.com",
    "sharepoint.com",
    "firebaseapp.com",
    "web.app",
    "appspot.com",
    "herokuapp.com",
    "netlify.app",
    "vercel.app",
    "pages.dev",
    "azurewebsites.net",
    "amazonaws.com",
    "googleapis.com",
    "googleusercontent.com",
    "000webhostapp.com",
    "tumblr.com",
    "medium.com",
    "readthedocs.io",
}


def test_the_list_ships_with_the_package_and_holds_no_platform_or_shortener():
    domains = common_domains()
    assert DOMAINS_PATH.parent.name == "scanner" and len(domains) > 150
    assert not domains & USER_PUBLISHING_PLATFORMS
    assert not domains & URL_SHORTENERS
    for domain in domains:
        parts = split_host(domain)
        assert parts.registered_domain == domain, f"{domain} is not a registered domain"
        assert not parts.on_hosting_platform, f"{domain} is a hosting platform's suffix"


def test_a_busy_url_on_a_common_domain_is_safe_and_says_why():
    result = scan_url(f"https://www.microsoft.com{BUSY_LOGIN_PATH}")
    assert result.model_score > 0.9  # the model alone would flag it
    assert result.verdict == "safe" and result.safety_score >= 80
    assert "common_domain" in {f.code for f in result.findings}


def test_the_same_url_elsewhere_is_still_flagged():
    result = scan_url(f"https://www.microsoft-support-desk.com{BUSY_LOGIN_PATH}")
    assert result.verdict != "safe"
    assert "common_domain" not in {f.code for f in result.findings}


@pytest.mark.parametrize(
    "url",
    [
        "https://sites.google.com/view/microsoft-account-verify-login/home",  # user content on a listed domain
        "https://docs.google.com/forms/d/e/1FAIpQLSf/viewform?account=verify&login=secure",
        "https://storage.cloud.google.com/bucket-8a7f6e5d/index.html",
        "https://paypal-account-verify.blogspot.com/login/secure/update.html",  # hosting platform user site
        "https://www.google.com/url?q=http://secure-login-account.example.tk/verify/account&sa=D",  # open redirect
        "https://www.paypal.com@account-verify.example.tk/login",  # userinfo trick
        "https://www.microsoft.com:8443/en-us/account/signin/verify/login.php",  # odd port
    ],
)
def test_abused_hosts_and_tricks_get_no_shelter(url):
    result = scan_url(url)
    assert "common_domain" not in {f.code for f in result.findings}


def test_a_redirect_back_to_listed_sites_keeps_the_shelter():
    oauth = (
        "https://login.live.com/oauth20_authorize.srf?client_id=000000004C12AE6F"
        "&redirect_uri=https%3A%2F%2Fwww.skype.com%2Fauth&response_type=token&scope=openid&locale=en-US"
    )
    assert "common_domain" in {f.code for f in scan_url(oauth).findings}


def test_high_findings_and_providers_beat_the_allow_list():
    download = scan_url("https://github.com/someone/tool/releases/download/v1/setup.exe")
    assert download.verdict != "safe" and "common_domain" not in {f.code for f in download.findings}

    class Listing:
        name = "fake"

        def lookup(self, normalized_url):
            return ProviderAnswer("fake", "malicious", "phishing", "listed")

    listed = scan_url(f"https://www.microsoft.com{BUSY_LOGIN_PATH}", providers=[Listing()])
    assert listed.verdict == "malicious"


def test_user_content_hosts_are_on_listed_domains():
    # an exclusion for a domain that is not listed would be dead text
    assert all(
        split_host(host).registered_domain in common_domains() for host in USER_CONTENT_HOSTS - {"1drv.ms"}
    )
