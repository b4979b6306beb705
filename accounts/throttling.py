"""Glue for django-axes: case-insensitive usernames, a friendly lockout page, and the same
lockout for every step that proves who someone is (password, recovery code, 2FA code)."""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from accounts.forms import OtpForm, RecoverForm

LOCKOUT_MESSAGE = "Too many failed attempts, try again in 15 minutes."


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """Key lockouts on the lowercased username, as log-in matches it case-insensitively."""
    username = ""
    if credentials:
        username = credentials.get("username") or ""
    if not username and request is not None and request.method == "POST":
        username = request.POST.get("username", "")
    return str(username).strip().lower()


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
