"""Client addresses, the one place that decides whether a proxy header is trusted."""

from __future__ import annotations

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
