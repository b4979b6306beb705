"""Per-user rate limits shared by the socket, the HTML fallback and the API."""

from __future__ import annotations

from django.conf import settings

from chats.validation import Refused
from chatsite import ratelimit


def check_send_rate(*, user_id: int) -> None:
    limit, window = settings.SEND_RATE
    if not ratelimit.hit(f"send:{user_id}", limit=limit, window=window):
        raise Refused("rate_limited", "You are sending too fast; wait a moment and try again.")
