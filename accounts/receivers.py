"""Django's login signal, the one hook every sign-in path passes through (the login page, the
API, sign-up, the 2FA step, the admin, test clients): it records the session."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from accounts import services
from accounts.models import User


@receiver(user_logged_in, dispatch_uid="accounts.session_record_login")
def on_login(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        services.session_record_login(request=request, user=user)
