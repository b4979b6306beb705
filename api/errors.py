"""One error shape for every API failure: {"detail", "code"} plus "errors" on 400s."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from django import forms

from chats import limits
from chats.validation import Refused

T = TypeVar("T")

# The code of an error that only has a status (ninja's own, Django's).
STATUS_CODES = {
    400: "invalid",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "rate_limited",
    500: "server_error",
}

# Refusal codes of the shared validation layer, as HTTP statuses.
REFUSED_STATUS = {
    "not_found": 404,
    "blocked": 403,
    "forbidden": 403,
    "gone": 410,
    "account_deleted": 410,
    "rate_limited": 429,
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        errors: Mapping[str, Sequence[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = {field: list(msgs) for field, msgs in (errors or {}).items()}
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.detail, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


def invalid(field: str, detail: str, code: str = "invalid") -> ApiError:
    return ApiError(400, code, detail, errors={field: [detail]})


def from_refused(refused: Refused, field: str | None = None) -> ApiError:
    status = REFUSED_STATUS.get(refused.code, 400)
    if status == 400 and field:
        return invalid(field, refused.detail, refused.code)
    headers = {"Retry-After": str(refused.retry_after)} if refused.retry_after else None
    return ApiError(status, refused.code, refused.detail, headers=headers)


def check_budget(kind: str, *, user_id: int) -> None:
    """Count one request against the user's `kind` budget (`chats.limits.BUDGETS`); over
    it, 429 `rate_limited` with `Retry-After`."""
    try:
        limits.check_budget(kind, user_id=user_id)
    except Refused as refused:
        raise from_refused(refused) from None


def clean_field(field: str, clean: Callable[[Any], T], value: Any) -> T:
    """Run a shared validator on one field; a refusal becomes a 400 naming that field."""
    try:
        return clean(value)
    except Refused as refused:
        raise from_refused(refused, field) from None


# The API's code for a form error's code where they differ (PasswordConfirmForm's "wrong").
FORM_ERROR_CODES = {"wrong": "wrong_password"}


def form_error(form: forms.Form) -> ApiError:
    """400 for an invalid form, as the page would say it: its first error's code and
    message, and every field's messages."""
    first = next(iter(form.errors.as_data().values()))[0]
    code = first.code or "invalid"
    return ApiError(
        400,
        FORM_ERROR_CODES.get(code, code),
        str(first.messages[0]),
        errors=form_errors(form.errors, {}),
    )


def form_errors(errors: Mapping[str, Any], rename: Mapping[str, str]) -> dict[str, list[str]]:
    """Django form errors keyed by the API's field names."""
    out: dict[str, list[str]] = {}
    for field, messages in errors.items():
        out.setdefault(rename.get(field, field), []).extend(str(m) for m in messages)
    return out
