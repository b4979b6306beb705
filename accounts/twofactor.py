"""Two-factor sign-in with TOTP (django-otp's TOTPDevice): setting it up, checking a code,
turning it off, and the half-signed-in step between the password and the code.

The half-signed-in step is not a login: the session holds only the pending user's id (and the
password hash it was proven against), never Django's auth keys. So every page, the API and
the socket (which all ask Django who the session's user is) see an anonymous visitor; only
the code form reads the pending id.
"""

from __future__ import annotations

import re
import time
from base64 import b32encode
from typing import Any

import segno
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.utils.crypto import constant_time_compare
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from accounts.models import User

PENDING_KEY = "_2fa_pending"
PENDING_SECONDS = 300
TOTP_CODE = re.compile(r"\d{6}")
DEVICE_NAME = "Authenticator app"


class TwoFactorError(Exception):
    """Setting up or turning off two-factor sign-in was refused; the message says why."""


def twofactor_enabled(*, user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def totp_setup_begin(*, user: User) -> TOTPDevice:
    """A new, unconfirmed authenticator for the user (any earlier unconfirmed one is
    dropped); it signs nothing in until `totp_setup_confirm` sees one of its codes."""
    if twofactor_enabled(user=user):
        raise TwoFactorError("Two-factor sign-in is already on.")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def totp_setup_pending(*, user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def totp_setup_confirm(*, user: User, code: str) -> None:
    """Turn two-factor sign-in on once the new authenticator shows a right code."""
    device = totp_setup_pending(user=user)
    if device is None:
        raise TwoFactorError("Start the set-up first: no authenticator is waiting for a code.")
    if not _totp_verify(device, code):
        raise TwoFactorError("That code is not right. Check the time on your phone and retry.")
    TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)


def twofactor_disable(*, user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()


def second_factor_check(*, user: User, code: str) -> bool:
    """Whether `code` is the user's current authenticator code (each one accepted once) or
    one of their unused recovery codes (then used up)."""
    code = "".join(code.split())
    if TOTP_CODE.fullmatch(code):
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        return device is not None and _totp_verify(device, code)
    try:
        services.recovery_code_use(user=user, code=code)
    except services.RecoveryFailed:
        return False
    return True


def _totp_verify(device: TOTPDevice, code: str) -> bool:
    """django-otp's check (drift tolerance, back-off after failures, and `last_t`: a code is
    refused once it or a later one was accepted), with the device row locked so two requests
    with the same code cannot both pass."""
    with transaction.atomic():
        locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        return bool(locked.verify_token(code))


def totp_secret(device: TOTPDevice) -> str:
    return b32encode(device.bin_key).decode()


def totp_qr_svg(device: TOTPDevice) -> str:
    """The otpauth URL as an inline SVG QR code, drawn here (segno), never by a service."""
    qr = segno.make(device.config_url, error="m")
    svg: str = qr.svg_inline(scale=4, title="QR code for your authenticator app")
    return svg


# -- the half-signed-in step ---------------------------------------------------------------


def pending_begin(*, session: SessionBase, user: User, next_url: str = "") -> None:
    """The password was right for a user with two-factor sign-in: remember whom the code
    form is for (not a login)."""
    session[PENDING_KEY] = {
        "user": user.pk,
        "hash": user.get_session_auth_hash(),
        "next": next_url,
        "at": time.time(),
    }


def pending_user(*, session: SessionBase) -> tuple[User, str] | None:
    """The user waiting for the code step and where to go next; None if nobody is, it
    timed out, or the password changed meanwhile."""
    pending: dict[str, Any] | None = session.get(PENDING_KEY)
    if not pending or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        return None
    user = User.objects.filter(pk=int(pending["user"]), is_active=True).first()
    if user is None or not constant_time_compare(
        user.get_session_auth_hash(), str(pending.get("hash"))
    ):
        return None
    return user, str(pending.get("next") or "")


def pending_end(*, session: SessionBase) -> None:
    session.pop(PENDING_KEY, None)
