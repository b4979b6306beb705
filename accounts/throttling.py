"""Glue for django-axes: one identity per account for the lockout, and a friendly lockout page."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

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


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": LOCKOUT_MESSAGE, "code": "locked_out"}, status=429)
    # An unbound form: binding one would authenticate again and count another failure.
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    context = {"form": form, "lockout": LOCKOUT_MESSAGE}
    return render(request, "accounts/login.html", context, status=429)
