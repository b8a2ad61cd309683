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


# The compose network (a range: the proxy's container address changes) and a load balancer.
PROXY_RANGES = frozenset({"172.28.0.0/16", "192.0.2.10", "2001:db8:1::/48"})


@override_settings(TRUSTED_PROXIES=PROXY_RANGES)
@pytest.mark.parametrize(
    ("remote", "forwarded", "client"),
    [
        ("172.28.0.5", "203.0.113.9", "203.0.113.9"),  # any address of the range is our proxy
        ("172.28.3.77", "203.0.113.9", "203.0.113.9"),  # the proxy came back with a new address
        ("172.28.0.5", "203.0.113.9, 192.0.2.10", "203.0.113.9"),  # load balancer, then our proxy
        ("172.28.0.5", "6.6.6.6, 203.0.113.9, 192.0.2.10", "203.0.113.9"),  # forged hop before the chain
        ("172.28.0.5", "172.28.9.9, 203.0.113.9", "203.0.113.9"),  # forged "trusted" hop: ignored
        ("172.28.0.5", "192.0.2.10, 172.28.0.4", "192.0.2.10"),  # only proxies: the left-most of them
        ("172.28.0.5", "not-an-address, 203.0.113.9", "203.0.113.9"),
        ("172.28.0.5", "203.0.113.9, junk", "172.28.0.5"),  # junk where a proxy writes: not believed
        ("172.29.0.5", "203.0.113.9", "172.29.0.5"),  # outside the range: the header is not believed
        ("2001:db8:1::7", "2001:db8:ff::1", "2001:db8:ff::1"),  # IPv6 range
        ("::ffff:172.28.0.5", "203.0.113.9", "203.0.113.9"),  # IPv4 proxy seen on an IPv6 socket
    ],
)
def test_trusted_proxies_may_be_cidr_ranges_and_chains_resolve_to_the_first_untrusted_hop(
    remote, forwarded, client
):
    assert client_ip(request(remote, forwarded)) == client


@override_settings(TRUSTED_PROXIES=frozenset({"172.28.0.0/16"}))
def test_a_client_spoofing_the_header_cannot_choose_its_address_through_the_proxy():
    # nginx appends the peer it saw ($proxy_add_x_forwarded_for) after whatever the client sent.
    spoofed = [client_ip(request("172.28.0.5", f"10.9.9.{n}, 198.51.100.4")) for n in range(5)]
    assert spoofed == ["198.51.100.4"] * 5


def test_a_trusted_proxies_entry_that_is_not_an_address_stops_the_start():
    from django.core.exceptions import ImproperlyConfigured

    from platform_site.correlation import CorrelationIdMiddleware

    with (
        override_settings(TRUSTED_PROXIES=frozenset({"proxy.internal"})),
        pytest.raises(ImproperlyConfigured),
    ):
        CorrelationIdMiddleware(lambda request: None)
