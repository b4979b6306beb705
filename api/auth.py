from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest
from django.middleware.csrf import get_token
from ninja import Router, Status

from accounts import throttling, twofactor
from accounts.checks import WRONG_CODE
from accounts.models import User
from accounts.throttling import LOCKOUT_MESSAGE
from api.errors import ApiError
from api.me import me_out
from api.schemas import CsrfOut, LoginIn, LoginOut, error_responses
from api.security import require_csrf

router = Router(tags=["auth"])

BAD_CREDENTIALS = "Please enter a correct username and password."
OTP_REQUIRED = 'Two-factor sign-in is on: send the code from your authenticator as "otp".'


@router.get("/auth/csrf/", response=CsrfOut, auth=None)
def csrf(request: HttpRequest) -> dict[str, str]:
    """Set the csrftoken cookie; send its value as X-CSRFToken on every unsafe request."""
    return {"csrf_token": get_token(request)}


def csrf_only(request: HttpRequest) -> bool:
    """Anyone may call, with a CSRF token: checked before the body, so a tokenless request
    is a 403 whatever it carries."""
    require_csrf(request)
    return True


@router.post(
    "/auth/login/",
    response={200: LoginOut, **error_responses(400, 401, 403, 429)},
    auth=csrf_only,
)
def auth_login(request: HttpRequest, payload: LoginIn) -> dict[str, Any]:
    """Log in with the same throttling as the login page (5 failures lock for 15 minutes).
    With two-factor sign-in on, "otp" is needed too: without it, 401 otp_required."""
    # request= lets django-axes count failures and refuse locked-out username+IP pairs.
    user = authenticate(request, username=payload.username, password=payload.password)
    if getattr(request, "axes_locked_out", False):
        raise ApiError(429, "locked_out", LOCKOUT_MESSAGE)
    if not isinstance(user, User):
        raise ApiError(401, "bad_credentials", BAD_CREDENTIALS)
    if twofactor.twofactor_enabled(user=user):
        if not payload.otp:
            raise ApiError(401, "otp_required", OTP_REQUIRED)
        if not twofactor.second_factor_check(user=user, code=payload.otp):
            throttling.attempt_failed(request, username=payload.username)
            if getattr(request, "axes_locked_out", False):
                raise ApiError(429, "locked_out", LOCKOUT_MESSAGE)
            raise ApiError(401, "otp_invalid", WRONG_CODE)
    login(request, user)
    return {**me_out(user), "csrf_token": get_token(request)}


@router.post("/auth/logout/", response={204: None, **error_responses(401, 403)})
def auth_logout(request: HttpRequest) -> Status[None]:
    logout(request)
    return Status(204, None)
