"""The server's VAPID key pair (RFC 8292): it signs every push, and browsers subscribe with
its public half as the `applicationServerKey`."""

from __future__ import annotations

import base64
from functools import cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_private_key() -> str:
    """A new P-256 private key as base64url of its raw 32 bytes (VAPID_PRIVATE_KEY's format)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return _b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def _private_key(private: str) -> ec.EllipticCurvePrivateKey:
    raw = base64.urlsafe_b64decode(private + "=" * (-len(private) % 4))
    if len(raw) != 32:
        raise ValueError("VAPID_PRIVATE_KEY must be the base64url of a raw 32-byte P-256 key.")
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())


@cache
def public_key_of(private: str) -> str:
    """The application server key browsers need: the uncompressed public point, base64url."""
    point = (
        _private_key(private)
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return _b64url(point)
