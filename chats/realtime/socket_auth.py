"""Who is on a socket: the session cookie, checked on the socket workers after the handshake.

Channels' AuthMiddlewareStack reads the session and the user before the consumer runs, on
the one thread Channels keeps for database work; daphne drops a handshake the application
has not answered within 5 seconds, so a storm of connects queued there was refused. Here the
middleware only takes the session key from the Cookie header; the consumer accepts, then
checks the session with Django's own `get_user` on the socket workers (socket_actions).
"""

from __future__ import annotations

from typing import Any

from channels.middleware import BaseMiddleware
from django.conf import settings
from django.http.cookie import parse_cookie


class SessionKeyMiddleware(BaseMiddleware):
    """Puts the session cookie's value (or None) in scope["session_key"]."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        key = None
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                key = parse_cookie(value.decode("latin1")).get(settings.SESSION_COOKIE_NAME)
                break
        return await super().__call__(dict(scope, session_key=key), receive, send)
