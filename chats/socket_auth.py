"""Who is on a socket: the session cookie, checked on the socket workers after the handshake.

Channels' AuthMiddlewareStack reads the session and the user before the consumer runs, on
the one thread Channels keeps for database work; daphne drops a handshake the application
has not answered within 5 seconds, so a storm of connects queued there was refused. Here the
middleware only takes the session key from the Cookie header; the consumer accepts, then
checks the session with Django's own `get_user` on the socket workers (socket_actions).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from channels.middleware import BaseMiddleware
from django.conf import settings
from django.http.cookie import parse_cookie
from django.utils import timezone

logger = logging.getLogger(__name__)


class SessionKeyMiddleware(BaseMiddleware):
    """Puts the session cookie's value (or None) in scope["session_key"]."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        key = None
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                key = parse_cookie(value.decode("latin1")).get(settings.SESSION_COOKIE_NAME)
                break
        return await super().__call__(dict(scope, session_key=key), receive, send)


class SessionExpiry:
    """Calls `check` once the socket's session is due to expire. Nothing on the server
    announces an expiry (a deletion does: accounts.receivers), so the socket looks for
    itself; `check` re-arms it when the session was extended meanwhile."""

    # Past the expiry by this much, so the check finds the session expired; and never
    # sooner than MIN_DELAY, so clocks that disagree cannot make it spin.
    SLACK, MIN_DELAY = 0.5, 1.0
    # A check that failed (the database unreachable) is tried again this much later.
    RETRY = 30.0

    def __init__(self, check: Callable[[], Awaitable[None]]) -> None:
        self.check = check
        self.timer: asyncio.TimerHandle | None = None
        self.running: asyncio.Future[None] | None = None
        self.stopped = False

    def arm(self, expires_at: datetime) -> None:
        delay = (expires_at - timezone.now()).total_seconds() + self.SLACK
        self.arm_in(max(delay, self.MIN_DELAY))

    def arm_in(self, seconds: float) -> None:
        if self.stopped:
            return  # the socket closed while a check was running
        self.cancel()
        self.timer = asyncio.get_running_loop().call_later(seconds, self.fire)

    def fire(self) -> None:
        self.timer = None
        self.running = asyncio.ensure_future(self.run())

    async def run(self) -> None:
        try:
            await self.check()
        except Exception:
            logger.warning("session check failed; again in %.0f s", self.RETRY, exc_info=True)
            self.arm_in(self.RETRY)

    def stop(self) -> None:
        self.stopped = True
        self.cancel()

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
