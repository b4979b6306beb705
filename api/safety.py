"""Account safety over the API: recovery codes, the recovery, two-factor sign-in, sessions.
The same services and rules as the pages (accounts/safety_views.py)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Router

from accounts import services, throttling
from accounts.models import User
from accounts.safety_views import RECOVERY_FAILED
from accounts.throttling import LOCKOUT_MESSAGE
from api.auth import csrf_only
from api.errors import ApiError, invalid
from api.schemas import (
    PasswordConfirmIn,
    RecoverIn,
    RecoverOut,
    RecoveryCodesOut,
    error_responses,
)
from api.security import session_auth

router = Router(tags=["account safety"])

WRONG_PASSWORD = "Your password was entered incorrectly."  # noqa: S105 (a message)


def _password_rules(field: str, password: str) -> None:
    try:
        password_validation.validate_password(password)
    except ValidationError as error:
        raise ApiError(
            400, "invalid", "Invalid password.", errors={field: list(error.messages)}
        ) from None


def check_password(user: User, password: str) -> None:
    if not user.check_password(password):
        raise invalid("password", WRONG_PASSWORD, "wrong_password")


@router.post(
    "/auth/recover/",
    response={200: RecoverOut, **error_responses(400, 403, 429)},
    auth=csrf_only,
)
def auth_recover(request: HttpRequest, payload: RecoverIn) -> dict[str, Any]:
    """Set a new password with a recovery code; every session of the account ends. Any
    wrong username or code is the same 400; throttled with log-in (429 when locked)."""
    _password_rules("new_password", payload.new_password)
    username = payload.username.strip()
    if not throttling.attempt_allowed(request, username=username):
        raise ApiError(429, "locked_out", LOCKOUT_MESSAGE)
    try:
        left = services.user_recover(
            username=username, code=payload.code, password=payload.new_password
        )
    except services.RecoveryFailed:
        throttling.attempt_failed(request, username=username)
        if getattr(request, "axes_locked_out", False):
            raise ApiError(429, "locked_out", LOCKOUT_MESSAGE) from None
        raise ApiError(400, "recovery_failed", RECOVERY_FAILED) from None
    return {"codes_left": left}


@router.post(
    "/me/recovery-codes/",
    response={200: RecoveryCodesOut, **error_responses(400, 401, 403)},
    auth=session_auth,
)
def me_recovery_codes(request: HttpRequest, payload: PasswordConfirmIn) -> dict[str, Any]:
    """A new set of 10 recovery codes (your password required); the old set stops working."""
    user: User = request.auth  # type: ignore[attr-defined]
    check_password(user, payload.password)
    return {"codes": services.recovery_codes_create(user=user)}
