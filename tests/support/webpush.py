"""A browser's push keys and a push service double for the Web Push tests.

The double is an HTTP server that, like a real push service, checks each POST's VAPID
`Authorization` header (RFC 8292) against the server's public key, and decrypts the
aes128gcm body (RFC 8291) with the subscription's private key, using `cryptography` and
`http_ece`.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class BrowserKeys:
    """What a browser makes when it subscribes: a P-256 key pair and an auth secret."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = b64url(os.urandom(16))
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.p256dh = b64url(point)

    def subscription(self, endpoint: str) -> dict[str, Any]:
        """The browser's PushSubscription.toJSON()."""
        return {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": self.auth},
        }

    def decrypt(self, body: bytes) -> bytes:
        return http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=unb64url(self.auth), version="aes128gcm"
        )


def check_vapid(header: str, public_key: str, audience: str) -> dict[str, Any]:
    """The JWT claims of a valid `vapid t=...,k=...` header, or AssertionError."""
    scheme, _, params = header.partition(" ")
    assert scheme == "vapid", header
    parts = dict(p.strip().split("=", 1) for p in params.split(","))
    assert parts["k"] == public_key, "signed with another key"
    token = parts["t"]
    signed, _, signature = token.rpartition(".")
    raw = unb64url(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(public_key))
    key.verify(der, signed.encode(), ec.ECDSA(hashes.SHA256()))  # raises when forged
    header_b64, claims_b64 = signed.split(".")
    assert json.loads(unb64url(header_b64)) == {"typ": "JWT", "alg": "ES256"}
    claims = json.loads(unb64url(claims_b64))
    assert claims["aud"] == audience
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    assert claims["sub"].startswith(("mailto:", "https:"))
    return claims


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    payload: dict[str, Any] | None = None


@dataclass
class PushServiceDouble:
    """Answers POSTs with the scripted statuses (then 201), recording what it received."""

    public_key: str
    keys: dict[str, BrowserKeys] = field(default_factory=dict)  # path -> the browser's keys
    script: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def start(self) -> PushServiceDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                double.handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def endpoint(self, name: str) -> str:
        return f"{self.origin}/push/{name}"

    def subscribe(self, name: str) -> dict[str, Any]:
        keys = self.keys[f"/push/{name}"] = BrowserKeys()
        return keys.subscription(self.endpoint(name))

    def answer(self, name: str, *statuses: int | tuple[int, dict[str, str]]) -> None:
        self.script[f"/push/{name}"] = [s if isinstance(s, tuple) else (s, {}) for s in statuses]

    def delivered(self, name: str | None = None) -> list[dict[str, Any]]:
        """Payloads of the POSTs answered 201."""
        return [
            r.payload
            for r in self.received
            if r.payload is not None and (name is None or r.path == f"/push/{name}")
        ]

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        received = Received(request.path, {k.lower(): v for k, v in request.headers.items()}, body)
        self.received.append(received)
        status, headers = 201, {}
        try:
            check_vapid(request.headers["Authorization"], self.public_key, self.origin)
            assert request.headers["Content-Encoding"] == "aes128gcm"
            plain = self.keys[request.path].decrypt(body)
            queued = self.script.get(request.path)
            if queued:
                status, headers = queued.pop(0)
            if status == 201:
                received.payload = json.loads(plain)
        except Exception as exc:  # the test reads `errors`: a refusal must not look like a 5xx
            self.errors.append(f"{request.path}: {exc!r}")
            status = 400
        request.send_response(status)
        for name, value in headers.items():
            request.send_header(name, value)
        request.send_header("Content-Length", "0")
        request.end_headers()
