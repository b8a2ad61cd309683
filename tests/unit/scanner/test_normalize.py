import pytest

from links_app.scanner import InvalidURL, normalize_url, registered_domain


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM:80/a/../b?x=1", "http://example.com/b?x=1"),
        ("https://EXAMPLE.com.:443", "https://example.com/"),
        ("https://example.com:8443/", "https://example.com:8443/"),
        ("http://example.com/%7euser/%2fa b", "http://example.com/~user/%2Fa%20b"),
        ("http://example.com/a/./b/../../c/", "http://example.com/c/"),
        ("http://example.com/page#section", "http://example.com/page"),
        ("http://example.com/?", "http://example.com/"),
        ("http://bücher.de/", "http://xn--bcher-kva.de/"),
        ("http://3232235777/", "http://192.168.1.1/"),
        ("http://0xC0A80101/", "http://192.168.1.1/"),
        ("http://0300.0250.1.1/", "http://192.168.1.1/"),
        ("http:\\\\example.com\\a", "http://example.com/a"),
        ("  http://exa\tmple.com/  ", "http://example.com/"),
        ("http://%65xample.com/", "http://example.com/"),
        ("http://[::FFFF:1.2.3.4]:8080/", "http://[::ffff:102:304]:8080/"),
        ("http://a%40b.com@evil.com/", "http://a%40b.com@evil.com/"),
        ("http://example.com/100%", "http://example.com/100%25"),
    ],
)
def test_normalize_url_canonical_form(raw, expected):
    assert normalize_url(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "HTTP://Example.COM:80/a/../b?x=1",
        "http://bücher.de/x y?q=ä",
        "http://0xC0A80101",
        "https://a.b.example.co.uk./%7e",
    ],
)
def test_normalize_url_is_idempotent(raw):
    once = normalize_url(raw)
    assert normalize_url(once) == once


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("javascript:alert(1)", "javascript"),
        ("data:text/html,<b>hi</b>", "data"),
        ("ftp://example.com/file", "only http and https"),
        ("example.com/path", "must start with http"),
        ("", "empty"),
        ("http://", "no host"),
        ("http://:80/", "no host"),
        ("http://a..b.com/", "empty label"),
        ("http://999.1.1.1/", "IP address"),
        ("http://example.com:99999/", "port"),
        ("http://example.com:8o/", "port"),
        ("http://[::1/", "IPv6"),
        ("http://exa mple.com/", "not valid"),
        ("http://example.com/\x00", "control"),
        ("http://example.com/" + "a" * 2050, "2,048"),
    ],
)
def test_invalid_urls_raise_invalid_url_with_reason(raw, reason):
    with pytest.raises(InvalidURL) as excinfo:
        normalize_url(raw)
    assert reason in str(excinfo.value)


def test_invalid_url_is_a_value_error_for_callers_that_catch_broadly():
    assert issubclass(InvalidURL, ValueError)


@pytest.mark.parametrize(
    ("url", "domain"),
    [
        ("https://a.b.Example.co.uk./x", "example.co.uk"),
        ("http://www.example.com/", "example.com"),
        ("https://alice.github.io/", "github.io"),
        ("http://3232235777/", "192.168.1.1"),
        ("http://localhost:8000/", "localhost"),
    ],
)
def test_registered_domain(url, domain):
    assert registered_domain(url) == domain
