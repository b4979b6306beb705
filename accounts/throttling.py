"""Glue for django-axes: one identity per account for the lockout, a friendly lockout page,
and the same lockout for every step that proves who someone is (password, recovery code,
2FA code)."""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from accounts.forms import OtpForm, RecoverForm
from accounts.models import User, is_username

LOCKOUT_MESSAGE = "Too many failed attempts, try again in 15 minutes."
# Names that cannot be a username share one key: they never log in (get_by_natural_key).
NOT_A_USERNAME = "invalid-name"


def axes_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str:
    """The lockout's key for an attempt: the account the login would check the password
    of ("user:<pk>", whatever the spelling typed), or the lowercased name when there is
    no such account. Keyed on spellings, each case or Unicode variant of a name that the
    lookup folds together had a budget of its own."""
    typed = ""
    if credentials:
        typed = credentials.get("username") or ""
    if not typed and request is not None and request.method == "POST":
        typed = request.POST.get("username", "")
    typed = str(typed)
    # axes asks several times per attempt: look the account up once.
    known: dict[str, str] = getattr(request, "_lockout_identity", {})
    if typed not in known:
        known[typed] = _identity(typed)
        if request is not None:
            request._lockout_identity = known  # type: ignore[attr-defined]
    return known[typed]


def _identity(typed: str) -> str:
    try:
        user = User.objects.get_by_natural_key(typed)
    except User.DoesNotExist:
        return typed.lower() if is_username(typed) else NOT_A_USERNAME
    return f"user:{user.pk}"


def attempt_allowed(request: HttpRequest, *, username: str) -> bool:
    """Whether this username+address may try again; False marks the request locked out,
    so AxesMiddleware answers it with `lockout_response`, as it does a locked-out login."""
    credentials = {"username": username}
    if AxesProxyHandler.is_allowed(request, credentials):
        return True
    request.axes_locked_out = True  # type: ignore[attr-defined]
    request.axes_credentials = credentials  # type: ignore[attr-defined]
    return False


def attempt_failed(request: HttpRequest, *, username: str) -> None:
    """Count a failed recovery or 2FA code against the username+address, as a wrong password
    is counted (the fifth failure of any kind locks the pair)."""
    user_login_failed.send(__name__, credentials={"username": username}, request=request)


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": LOCKOUT_MESSAGE, "code": "locked_out"}, status=429)
    match = request.resolver_match
    if match is not None and match.view_name in LOCKOUT_PAGES:
        template, form = LOCKOUT_PAGES[match.view_name](request)
    else:
        # An unbound form: binding one would authenticate again and count another failure.
        username = request.POST.get("username", "")
        template = "accounts/login.html"
        form = AuthenticationForm(request, initial={"username": username})
    context = {"form": form, "lockout": LOCKOUT_MESSAGE}
    return render(request, template, context, status=429)


def _recover_page(request: HttpRequest) -> tuple[str, Any]:
    return "accounts/recover.html", RecoverForm(initial={"username": request.POST.get("username")})


def _code_page(request: HttpRequest) -> tuple[str, Any]:
    return "accounts/login_code.html", OtpForm()


LOCKOUT_PAGES = {"accounts:recover": _recover_page, "accounts:login_code": _code_page}


def attempts_forget(*, user: User) -> None:
    """The account is deleted: the lockout's records of it (attempts, sign-ins with their
    addresses and browsers) go too."""
    identity = f"user:{user.pk}"
    for model in (AccessAttempt, AccessFailureLog, AccessLog):
        model.objects.filter(username=identity).delete()
