from __future__ import annotations

from typing import Any

from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest
from ninja import Router, Status

from accounts import services
from accounts.checks import delete_account_check
from accounts.forms import DeleteAccountForm, UsernameForm
from accounts.models import User
from accounts.selectors import USERNAME_RESERVED, USERNAME_TAKEN
from accounts.throttling import LOCKOUT_MESSAGE
from api.errors import ApiError, form_error, form_errors, invalid
from api.schemas import DeleteMeIn, MeOut, MePatchIn, PasswordIn, error_responses
from api.security import session_auth
from push import services as push_services

router = Router(tags=["me"], auth=session_auth)

PASSWORD_FIELDS = {"new_password1": "new_password", "new_password2": "new_password"}


def me_out(user: User) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.username,
        "hide_presence": user.hide_presence,
        "send_read_receipts": user.send_read_receipts,
        "notification_previews": user.notification_previews,
    }


@router.get("/me/", response={200: MeOut, **error_responses(401)})
def me_get(request: HttpRequest) -> dict[str, Any]:
    return me_out(request.auth)  # type: ignore[attr-defined]


@router.patch("/me/", response={200: MeOut, **error_responses(400, 401, 403)})
def me_update(request: HttpRequest, payload: MePatchIn) -> dict[str, Any]:
    """Change your username, privacy or notification settings; omitted fields stay as they are."""
    user: User = request.auth  # type: ignore[attr-defined]
    if payload.username is not None:
        form = UsernameForm({"username": payload.username}, user=user)
        if not form.is_valid():
            raise ApiError(400, "invalid", "Invalid username.", errors=form_errors(form.errors, {}))
        try:
            services.user_change_username(user=user, username=form.cleaned_data["username"])
        except services.UsernameReserved:
            raise invalid("username", USERNAME_RESERVED, "reserved") from None
        except services.UsernameTaken:
            raise invalid("username", USERNAME_TAKEN, "taken") from None
    if payload.hide_presence is not None or payload.send_read_receipts is not None:
        services.user_update_privacy(
            user=user,
            hide_presence=user.hide_presence
            if payload.hide_presence is None
            else payload.hide_presence,
            send_read_receipts=user.send_read_receipts
            if payload.send_read_receipts is None
            else payload.send_read_receipts,
        )
    if payload.notification_previews is not None:
        push_services.notification_previews_set(user=user, previews=payload.notification_previews)
    return me_out(user)


@router.post("/me/password/", response={204: None, **error_responses(400, 401, 403)})
def me_password(request: HttpRequest, payload: PasswordIn) -> Status[None]:
    """Change your password; your other sessions are logged out, this one stays."""
    user: User = request.auth  # type: ignore[attr-defined]
    form = PasswordChangeForm(
        user,
        {
            "old_password": payload.old_password,
            "new_password1": payload.new_password,
            "new_password2": payload.new_password,
        },
    )
    if not form.is_valid():
        errors = form_errors(form.errors, PASSWORD_FIELDS)
        raise ApiError(400, "invalid", "The password was not changed.", errors=errors)
    services.user_change_password(user=user, password=payload.new_password)
    update_session_auth_hash(request, user)
    return Status(204, None)


@router.delete("/me/", response={204: None, **error_responses(400, 401, 403, 429)})
def me_delete(request: HttpRequest, payload: DeleteMeIn) -> Status[None]:
    """Delete your account (your password, your username typed again, and a code with
    two-factor sign-in): every session ends, and your messages stay in the other person's
    history as sent by "Deleted account", or with `erase_messages` their text is erased.
    See docs/privacy.md."""
    user: User = request.auth  # type: ignore[attr-defined]
    data = {
        "password": payload.password,
        "username": payload.username,
        "code": payload.code or "",
        "erase_messages": payload.erase_messages,
    }
    form = DeleteAccountForm(data, user=user)
    checked = delete_account_check(request, form)
    if checked == "locked":
        raise ApiError(429, "locked_out", LOCKOUT_MESSAGE)
    if checked == "invalid":
        raise form_error(form)
    services.user_delete(user=user, erase_messages=payload.erase_messages)
    logout(request)
    return Status(204, None)
