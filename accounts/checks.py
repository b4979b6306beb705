"""The checks the pages and the API share before a sensitive change (their messages
too): one place for what the two edges ask of a person."""

from __future__ import annotations

from typing import Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest

from accounts import throttling, twofactor
from accounts.forms import DeleteAccountForm

RECOVERY_FAILED = "That username and recovery code do not match an account, or the code was used."
WRONG_CODE = "That code is not right (or was already used)."
CODE_REQUIRED = "Two-factor sign-in is on: enter a code from your authenticator app."
DeleteCheck = Literal["ok", "invalid", "locked"]


def delete_account_check(request: HttpRequest, form: DeleteAccountForm) -> DeleteCheck:
    """The page's and the API's check before a deletion: the form (password, username),
    then the second factor when it is on. A wrong password or code counts in the login's
    lockout; a code is only spent by a request whose password and name were right."""
    user = form.user
    if not throttling.attempt_allowed(request, username=user.username):
        return "locked"
    if not form.is_valid():
        if "password" in form.errors:
            throttling.attempt_failed(request, username=user.username)
        return "invalid"
    if twofactor.twofactor_enabled(user=user):
        code = form.cleaned_data["code"]
        if not code:
            form.add_error("code", ValidationError(CODE_REQUIRED, code="code_required"))
            return "invalid"
        if not twofactor.second_factor_check(user=user, code=code):
            throttling.attempt_failed(request, username=user.username)
            form.add_error("code", ValidationError(WRONG_CODE, code="wrong_code"))
            return "invalid"
    return "ok"
