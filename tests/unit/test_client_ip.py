"""Which address lockouts and rate limits count: never one the client can choose."""

import pytest
from django.test import RequestFactory, override_settings

from platform_site.correlation import client_ip


def request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@override_settings(TRUSTED_PROXIES=frozenset())
def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says():
    assert client_ip(request("198.51.100.4", "1.2.3.4")) == "198.51.100.4"


@override_settings(TRUSTED_PROXIES=frozenset({"10.0.0.2", "10.0.0.3"}))
@pytest.mark.parametrize(
    ("remote", "forwarded", "client"),
    [
        ("10.0.0.2", "203.0.113.9", "203.0.113.9"),  # one proxy hop
        ("10.0.0.2", "203.0.113.9, 10.0.0.3", "203.0.113.9"),  # two of our proxies
        ("10.0.0.2", "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # a forged left-most hop is ignored
        ("10.0.0.2", "", "10.0.0.2"),  # no header: the proxy itself
        ("198.51.100.4", "6.6.6.6", "198.51.100.4"),  # not our proxy: header not believed
    ],
)
def test_behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client(
    remote, forwarded, client
):
    assert client_ip(request(remote, forwarded)) == client
