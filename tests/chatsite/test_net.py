"""Client addresses and the key of per-IP limits (chatsite/net.py)."""

import pytest
from django.test import RequestFactory

from chatsite.net import UNKNOWN_IP, client_network, ip_group


@pytest.mark.parametrize(
    ("ip", "group"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"),
        ("2001:db8:1:2::1", "2001:db8:1:2::"),
        ("2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::"),
        ("2001:db8:1:3::1", "2001:db8:1:3::"),
        ("::ffff:203.0.113.7", "203.0.113.7"),  # an IPv4 client on a dual-stack socket
        ("fe80::1%eth0", "fe80::"),
        ("::1", "::"),
        ("not an address", UNKNOWN_IP),
        ("", UNKNOWN_IP),
    ],
)
def test_ip_group_is_the_address_for_ipv4_and_the_64_for_ipv6(ip, group):
    assert ip_group(ip) == group


def test_client_network_groups_the_trusted_proxys_address(settings):
    settings.TRUST_PROXY = True
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 2001:db8:5:6::42"
    )
    assert client_network(request) == "2001:db8:5:6::"
