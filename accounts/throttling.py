"""Glue for django-axes: case-insensitive usernames and a friendly lockout page."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

LOCKOUT_MESSAGE = "Too many failed attempts, try again in 15 minutes."


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """Key lockouts on the lowercased username, as log-in matches it case-insensitively."""
    username = ""
    if credentials:
        username = credentials.get("username") or ""
    if not username and request is not None and request.method == "POST":
        username = request.POST.get("username", "")
    return str(username).strip().lower()


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
