"""Logging a browser out removes its push subscription.

A receiver rather than a service call in each logout view: Django's `logout()` is the one
place every way out passes (the site's form, the API, the admin), and it sends this signal.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from push import services


@receiver(user_logged_out, dispatch_uid="push.logout")
def on_logout(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    if request is not None and request.session.session_key:
        services.subscriptions_remove_for_session(session_key=request.session.session_key)
