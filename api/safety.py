"""Account safety over the API: recovery codes, the recovery, two-factor sign-in, sessions.
The same services and rules as the pages (accounts/safety_views.py)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Router, Status

from accounts import selectors, services, throttling, twofactor
from accounts.checks import RECOVERY_FAILED, WRONG_CODE
from accounts.export import export_response
from accounts.forms import PasswordConfirmForm
from accounts.models import User
from accounts.throttling import LOCKOUT_MESSAGE
from api.auth import csrf_only
from api.errors import ApiError, form_error, invalid
from api.schemas import (
    CodeIn,
    ExportOut,
    PasswordConfirmIn,
    RecoverIn,
    RecoverOut,
    RecoveryCodesOut,
    SessionOut,
    TwoFactorOffIn,
    TwoFactorSetupOut,
    error_responses,
)
from api.security import session_auth
from chats.selectors import iso_utc
from chats.validation import is_id

router = Router(tags=["account safety"])


def _password_rules(field: str, password: str) -> None:
    try:
        password_validation.validate_password(password)
    except ValidationError as error:
        raise ApiError(
            400, "invalid", "Invalid password.", errors={field: list(error.messages)}
        ) from None


def check_password(user: User, password: str) -> None:
    """The pages' check (accounts.forms.PasswordConfirmForm): 400 `wrong_password` with
    its message when the password is not the user's."""
    form = PasswordConfirmForm({"password": password}, user=user)
    if not form.is_valid():
        raise form_error(form)


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


@router.post(
    "/me/2fa/",
    response={200: TwoFactorSetupOut, **error_responses(400, 401, 403)},
    auth=session_auth,
)
def me_2fa_setup(request: HttpRequest, payload: PasswordConfirmIn) -> dict[str, Any]:
    """Start setting up two-factor sign-in (your password required): a new authenticator
    key; it is on once POST /api/me/2fa/confirm/ sees one of its codes."""
    user: User = request.auth  # type: ignore[attr-defined]
    check_password(user, payload.password)
    try:
        device = twofactor.totp_setup_begin(user=user)
    except twofactor.TwoFactorError as error:
        raise ApiError(400, "already_on", str(error)) from None
    return {"secret": twofactor.totp_secret(device), "otpauth_url": device.config_url}


@router.post(
    "/me/2fa/confirm/",
    response={204: None, **error_responses(400, 401, 403)},
    auth=session_auth,
)
def me_2fa_confirm(request: HttpRequest, payload: CodeIn) -> Status[None]:
    """Turn two-factor sign-in on with a code from the new authenticator."""
    user: User = request.auth  # type: ignore[attr-defined]
    try:
        twofactor.totp_setup_confirm(user=user, code=payload.code)
    except twofactor.TwoFactorError as error:
        raise invalid("code", str(error), "wrong_code") from None
    return Status(204, None)


@router.delete(
    "/me/2fa/",
    response={204: None, **error_responses(400, 401, 403)},
    auth=session_auth,
)
def me_2fa_disable(request: HttpRequest, payload: TwoFactorOffIn) -> Status[None]:
    """Turn two-factor sign-in off: your password and a code (authenticator or recovery)."""
    user: User = request.auth  # type: ignore[attr-defined]
    check_password(user, payload.password)
    if not twofactor.twofactor_enabled(user=user):
        raise ApiError(400, "not_on", "Two-factor sign-in is not on.")
    if not twofactor.second_factor_check(user=user, code=payload.code):
        raise invalid("code", WRONG_CODE, "wrong_code")
    twofactor.twofactor_disable(user=user)
    return Status(204, None)


@router.get("/me/sessions/", response={200: list[SessionOut], **error_responses(401)})
def me_sessions(request: HttpRequest) -> list[dict[str, Any]]:
    """Every signed-in browser or API client of yours, most recently active first."""
    rows = selectors.sessions_of(
        user=request.auth,  # type: ignore[attr-defined]
        current_key=request.session.session_key,
    )
    return [
        {
            "id": row.id,
            "device": row.device,
            "ip": row.ip,
            "created_at": iso_utc(row.created_at),
            "last_active": iso_utc(row.last_active),
            "current": row.current,
        }
        for row in rows
    ]


@router.delete(
    "/me/sessions/{session_id}/", response={204: None, **error_responses(400, 401, 403, 404)}
)
def me_session_end(request: HttpRequest, session_id: int) -> Status[None]:
    """Sign one session out (its sockets close at once); yours too, if it is this one."""
    user: User = request.auth  # type: ignore[attr-defined]
    if not is_id(session_id) or not services.sessions_end(user=user, ids=[session_id]):
        raise ApiError(404, "not_found", "No such session.")
    return Status(204, None)


@router.get("/me/export/", response={200: ExportOut, **error_responses(401)})
def me_export(request: HttpRequest) -> StreamingHttpResponse:
    """All your data as one JSON document (streamed; see the schema)."""
    return export_response(request.auth)  # type: ignore[attr-defined]
