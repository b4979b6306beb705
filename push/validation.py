"""Which URLs the server will POST pushes to: only the browser push services allowed by
PUSH_SERVICE_HOSTS (a subscription endpoint is a URL chosen by the user)."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

from django.conf import settings

REFUSED = "Push endpoints must be https URLs of a known browser push service."


class SubscriptionRefused(ValueError):
    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


def _allowed(scheme: str, host: str, port: int) -> bool:
    for entry in settings.PUSH_SERVICE_HOSTS:
        entry = entry.lower()
        want_scheme = "https"
        if entry.startswith("http://"):
            want_scheme, entry = "http", entry.removeprefix("http://")
        elif entry.startswith("https://"):
            entry = entry.removeprefix("https://")
        name, _, entry_port = entry.partition(":")
        default_port = 443 if want_scheme == "https" else 80
        want_port = int(entry_port) if entry_port.isdigit() else default_port
        if scheme != want_scheme or port != want_port:
            continue
        if name == host or (name.startswith("*.") and host.endswith(name[1:])):
            return True
    return False


def endpoint_check(endpoint: str) -> str:
    """The endpoint if the server may POST to it, else SubscriptionRefused."""
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        raise SubscriptionRefused("endpoint", REFUSED) from None
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password or parts.scheme not in ("https", "http"):
        raise SubscriptionRefused("endpoint", REFUSED)
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    if not _allowed(parts.scheme, host, port):
        raise SubscriptionRefused("endpoint", REFUSED)
    return endpoint


def _b64url_bytes(value: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, binascii.Error):
        return None


def keys_check(*, p256dh: str, auth: str) -> tuple[str, str]:
    """The subscription's keys (RFC 8291): a P-256 public point and a 16-byte secret."""
    point = _b64url_bytes(p256dh)
    if point is None or len(point) != 65 or point[0] != 4:
        raise SubscriptionRefused("keys.p256dh", "Must be a base64url P-256 public key.")
    secret = _b64url_bytes(auth)
    if secret is None or len(secret) != 16:
        raise SubscriptionRefused("keys.auth", "Must be a base64url 16-byte secret.")
    return p256dh, auth
