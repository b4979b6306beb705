"""Client addresses, the one place that decides whether a proxy header is trusted."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

# Some clients (test clients, unix sockets) have no address; the IP fields need a valid one.
UNKNOWN_IP = "0.0.0.0"  # noqa: S104


def client_ip(request: HttpRequest) -> str:
    """The client's IP: REMOTE_ADDR, or the proxy's X-Forwarded-For when TRUST_PROXY is on."""
    if settings.TRUST_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        # The proxy appends the address it saw: the last entry is the one it vouches for.
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return str(request.META.get("REMOTE_ADDR") or UNKNOWN_IP)


def ip_group(ip: str) -> str:
    """The address a per-IP limit counts: an IPv4 address as it is, an IPv6 address as its
    /64 network (what one subscriber is given: counting single addresses would give the
    holder of a /64 2^64 budgets). Anything unparsable counts as UNKNOWN_IP."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return UNKNOWN_IP
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False).network_address)
    return str(address)


def client_network(request: HttpRequest) -> str:
    """`ip_group` of the client's IP: the key of every per-IP limit (sign-up, the lockout)."""
    return ip_group(client_ip(request))
