"""Forwarders and sign-in pages of well-known sites are judged by where they send the reader."""

import pytest

from links_app.scanner import scan_url
from links_app.scanner.normalize import normalize_parts
from links_app.scanner.redirects import redirect_destination
from links_app.scanner.urlview import UrlView

PHISHING_PAGE = "http://paypal.com.account-verify.secure-login.tk/webscr/cmd=_login-submit/index.php"
ORDINARY_PAGE = "https://www.wikipedia.org/wiki/Python_(programming_language)"


def destination_of(url: str) -> str | None:
    found = redirect_destination(UrlView(normalize_parts(url), url))
    return found.parts.url if found else None


@pytest.mark.parametrize(
    ("url", "destination"),
    [
        (
            "https://www.google.com/url?sa=t&q=http%3A%2F%2Fexample.org%2Fa%3Fb%3D1&usg=x",
            "http://example.org/a?b=1",
        ),
        (
            "https://www.google.com/url?hl=en&amp;q=http://example.org/a&amp;source=gmail",
            "http://example.org/a",
        ),
        ("https://www.google.com.mx/url?sa=t&url=http%3A%2F%2Fexample.org%2Fa", "http://example.org/a"),
        ("https://google.co.in/url?q=https://example.org/", "https://example.org/"),
        ("https://vk.com/away.php?to=https%3A%2F%2Fexample.org%2F&post=1", "https://example.org/"),
        (
            "https://www.tumblr.com/safe-mode?url=https%3A%2F%2Falice.tumblr.com%2F",
            "https://alice.tumblr.com/",
        ),
        (
            "https://deref-gmx.net/mail/client/abc/dereferrer/?redirectUrl=https%3A%2F%2Fexample.org",
            "https://example.org/",
        ),
        (
            "https://login.microsoftonline.com/common/oauth2/authorize?client_id=1"
            "&redirect_uri=https:%2F%2Fcontoso-my.sharepoint.com%2F_forms%2Fdefault.aspx",
            "https://contoso-my.sharepoint.com/_forms/default.aspx",
        ),
    ],
)
def test_known_forwarders_give_their_destination(url, destination):
    assert destination_of(url) == destination


@pytest.mark.parametrize(
    "url",
    [
        "https://www.google.com/search?q=http://example.org/",  # a search, not a forwarder
        "http://google-login.example.tk/url?q=http://example.org/",  # same page on an unknown host
        "https://google.xyz/url?q=http://example.org/",  # not Google's
        "https://maps.google.co.in/url?q=http://example.org/",  # another host of a country site
        "https://vk.com/away.php?to=%2Ffeed",  # relative: stays on the site
        "https://vk.com/away.php?to=javascript:alert(1)",
        "https://vk.com/away.php",
        "https://login.microsoftonline.com/common/oauth2/authorize?client_id=2c090993",  # no way on
    ],
)
def test_other_links_have_no_destination(url):
    assert destination_of(url) is None


def test_an_open_redirect_to_a_phishing_page_is_judged_as_that_page():
    direct = scan_url(PHISHING_PAGE)
    forwarded = scan_url(f"https://www.google.com/url?q={PHISHING_PAGE}&sa=D")
    assert forwarded.verdict == direct.verdict == "malicious"
    assert forwarded.threat_category == "phishing"
    codes = [f.code for f in forwarded.findings]
    assert codes.count("redirect_destination") == 1
    assert "common_domain" not in codes
    # the destination's findings explain the verdict
    model = next(f for f in forwarded.findings if f.code == "model_lexical_risk")
    assert model.message.startswith("At the destination: ")


def test_a_platform_interstitial_to_an_ordinary_page_is_as_safe_as_the_page():
    direct = scan_url(ORDINARY_PAGE)
    forwarded = scan_url(f"https://www.tumblr.com/safe-mode?url={ORDINARY_PAGE}")
    assert forwarded.verdict == direct.verdict == "safe"
    assert forwarded.safety_score == direct.safety_score
    assert forwarded.model_score == direct.model_score


def test_a_sign_in_page_is_judged_by_the_address_it_sends_back_to():
    back_home = scan_url(
        "https://login.live.com/oauth20_authorize.srf?client_id=000000004C12AE6F"
        "&redirect_uri=https%3A%2F%2Fwww.skype.com%2Fauth&response_type=token&scope=openid"
    )
    assert back_home.verdict == "safe"
    elsewhere = scan_url(
        f"https://accounts.google.com/ServiceLogin?service=mail&continue={PHISHING_PAGE}&passive=true"
    )
    assert elsewhere.verdict == "malicious"


def test_a_download_behind_a_forwarder_is_malware():
    result = scan_url("https://vk.com/away.php?to=http%3A%2F%2Ffiles.example.org%2Fsetup.exe")
    assert result.verdict != "safe" and result.threat_category == "malware"
    assert any(
        f.code == "executable_download" and f.message.startswith("At the destination")
        for f in result.findings
    )


def test_only_one_hop_is_followed():
    inner = f"https://vk.com/away.php?to={PHISHING_PAGE}"
    result = scan_url(f"https://www.google.com/url?q={inner.replace('?', '%3F').replace('=', '%3D')}")
    assert [f.code for f in result.findings].count("redirect_destination") == 1


def test_the_forwarders_own_tricks_still_count():
    # a host-like user part before "@" is a high finding of the link itself
    result = scan_url(f"https://paypal.com@www.google.com/url?q={ORDINARY_PAGE}")
    assert result.verdict != "safe"
    assert any(f.code == "userinfo_in_url" and not f.message.startswith("At the") for f in result.findings)


def test_a_link_naming_two_destinations_is_judged_as_it_stands():
    two = f"https://www.google.com/url?q={ORDINARY_PAGE}&url={PHISHING_PAGE}"
    assert destination_of(two) is None
    assert destination_of(f"https://vk.com/away.php?to={ORDINARY_PAGE}&to={PHISHING_PAGE}") is None
    result = scan_url(two)
    assert "redirect_destination" not in {f.code for f in result.findings}
