"""The socket's Origin check: the same rule as Django's CSRF check on HTTP requests.

Channels' AllowedHostsOriginValidator compares host names only, so a page on another port
or scheme of an allowed host (`http://127.0.0.1:9999`, `ws://...`) could open a socket with
the visitor's cookie. Here the handshake is read as the request Django would see, and
Django's own origin check decides: the Origin must be exactly the site's own (scheme,
host and port of the Host it was served from, https behind a TLS proxy trusted through
SECURE_PROXY_SSL_HEADER) or one of CSRF_TRUSTED_ORIGINS.
"""

from __future__ import annotations

import io
from typing import Any

from channels.security.websocket import WebsocketDenier
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware


class _Handshake(ASGIRequest):
    """A WebSocket handshake as an HTTP request: its headers, and ws/wss as http/https."""

    def __init__(self, scope: dict[str, Any]) -> None:
        super().__init__({**scope, "method": "GET"}, io.BytesIO())

    def _get_scheme(self) -> str:
        return "https" if self.scope.get("scheme") == "wss" else "http"


def _no_view(request: Any) -> HttpResponse:
    raise AssertionError("only the origin check is used")


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Whether the handshake's Origin is the site's own, by Django's CSRF rule."""
    request = _Handshake(scope)
    if "HTTP_ORIGIN" not in request.META:
        return False  # browsers always send one on a socket: a page cannot leave it out
    # Django's own rule rather than a copy that could drift from it (a private method, so
    # not in django-stubs; tests/chatsite/test_origins.py pins what it must do). A new
    # middleware per handshake: it caches CSRF_TRUSTED_ORIGINS, which tests change.
    check = CsrfViewMiddleware(_no_view)
    return bool(check._origin_verified(request))  # type: ignore[attr-defined]


class SameOriginValidator:
    """ASGI middleware: refuses a socket at the handshake unless `origin_allowed`."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
