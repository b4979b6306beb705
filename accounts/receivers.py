"""The two hooks every path passes through, whatever code of Django's or ours runs.

Sign-in: Django's login signal (the login page, the API, sign-up, the 2FA step, the admin,
test clients) records the session.

Session end: Django's own code ends sessions (logout on the pages, the API and the admin;
flush; cycle_key; clearsessions; a deletion in the shell), and none of it goes through a
service of ours: the deletion of the session row is the one place every path passes. The
receiver only hands over to the service, which rings after commit."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.http import HttpRequest

from accounts import services
from accounts.models import User


def on_login(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        services.session_record_login(request=request, user=user)


def session_deleted(sender: type[Session], instance: Session, **kwargs: Any) -> None:
    raw_id = instance.get_decoded().get(SESSION_KEY)
    if isinstance(raw_id, str) and raw_id.isdigit():
        services.session_ended(user_id=int(raw_id), session_key=instance.session_key)
