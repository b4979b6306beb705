"""The installable app: the web app manifest, the service worker and the offline page; and
the profile page's form to remove a subscribed browser."""

from __future__ import annotations

import hashlib
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.models import User
from chats import selectors as chat_selectors
from chats.models import Chat
from push import mutes, services

OFFLINE_URL = "/offline/"
# What the worker keeps for the offline page (beside the page itself).
SHELL = ["css/site.css", "img/icon-192.png", "img/favicon.svg"]
THEME_LIGHT, THEME_DARK = "#2563eb", "#0e1116"
BACKGROUND = "#f4f6f8"


def _static_text(name: str) -> bytes:
    """A static file's bytes: from the source folders, else from collectstatic's copy."""
    path = finders.find(name)
    if isinstance(path, str):
        with open(path, "rb") as f:
            return f.read()
    with staticfiles_storage.open(name) as f:
        return f.read()


def _worker_script() -> bytes:
    shell = [static(name) for name in SHELL]
    digest = hashlib.sha256(_static_text("sw.js"))
    for name in SHELL:
        digest.update(_static_text(name))
    config = {"version": digest.hexdigest()[:16], "shell": shell, "offline": OFFLINE_URL}
    # The version changes with any of these files, so the browser sees a new worker (it
    # compares the script byte for byte) and the worker a new cache.
    head = f"self.CHATSITE = {json.dumps(config)};\n"
    return head.encode() + _static_text("sw.js")


@require_GET
@never_cache
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker at the site's root, so its scope can be the whole site."""
    # Built per request (four small files): browsers fetch it once per visit at most.
    response = HttpResponse(_worker_script(), content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    return response


@require_GET
@cache_control(max_age=3600, public=True)
def manifest(request: HttpRequest) -> JsonResponse:
    icons = [
        {"src": static("img/icon-192.png"), "sizes": "192x192", "type": "image/png"},
        {"src": static("img/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        {
            "src": static("img/icon-maskable-512.png"),
            "sizes": "512x512",
            "type": "image/png",
            "purpose": "maskable",
        },
    ]
    data = {
        "id": "/chats/",
        "name": "Chatsite",
        "short_name": "Chatsite",
        "description": "Real-time one-to-one chat.",
        "start_url": "/chats/",
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_LIGHT,
        "background_color": BACKGROUND,
        "icons": icons,
    }
    response = JsonResponse(data)
    response["Content-Type"] = "application/manifest+json"
    return response


@require_GET
def offline(request: HttpRequest) -> HttpResponse:
    """Shown by the service worker when a page cannot be reached: the same for everyone."""
    return render(request, "push/offline.html")


@login_required
@require_POST
def chat_mute(request: HttpRequest, chat_id: int) -> HttpResponse:
    """The chat header's Mute/Unmute button (`muted` is 1 or 0)."""
    user: User = request.user  # type: ignore[assignment]
    try:
        chat = chat_selectors.chat_get_for_member(user_id=user.pk, chat_id=chat_id)
    except Chat.DoesNotExist:
        raise Http404 from None
    muted = request.POST.get("muted") == "1"
    mutes.chat_mute_set(user=user, chat_id=chat.pk, muted=muted)
    return redirect(chat.get_absolute_url())


@login_required
@require_POST
def notification_previews(request: HttpRequest) -> HttpResponse:
    """The profile's "show message text in notifications" checkbox."""
    user: User = request.user  # type: ignore[assignment]
    services.notification_previews_set(user=user, previews=request.POST.get("previews") == "on")
    messages.success(request, "Your notification settings were saved.")
    return redirect("accounts:profile")


@login_required
@require_POST
def subscription_remove(request: HttpRequest, subscription_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    try:
        services.subscription_remove(user=user, subscription_id=subscription_id)
    except services.SubscriptionNotFound:
        messages.error(request, "That browser was already removed.")
    else:
        messages.success(request, "That browser will no longer get notifications.")
    return redirect("accounts:profile")
