"""RFC 6238 codes computed by the tests themselves (not by the library under test)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time

import pytest
from django_otp.plugins.otp_totp import models as totp_models

from accounts import twofactor


def totp(secret_b32: str, at: float | None = None, step: int = 30, digits: int = 6) -> str:
    key = base64.b32decode(secret_b32)
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


class Clock:
    """A settable clock for django-otp's TOTP checks (which read `time.time()`)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    """django-otp's idea of now, moved by the test (30 s per TOTP step)."""
    clock = Clock(1_800_000_000.0)
    monkeypatch.setattr(totp_models, "time", clock)
    return clock


@pytest.fixture
def with_2fa(clock):
    """`with_2fa(user)` turns two-factor sign-in on and returns a function giving the
    user's current code (the confirming code is spent: the clock moves a step on)."""

    def enable(user):
        device = twofactor.totp_setup_begin(user=user)
        secret = twofactor.totp_secret(device)
        twofactor.totp_setup_confirm(user=user, code=totp(secret, clock.now))
        clock.now += 30
        return lambda: totp(secret, clock.now)

    return enable
