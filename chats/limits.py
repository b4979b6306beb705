"""Per-user rate limits shared by the socket, the HTML fallback and the API."""

from __future__ import annotations

from django.conf import settings

from chats.validation import Refused
from chatsite import ratelimit


def check_send_rate(*, user_id: int) -> None:
    limit, window = settings.SEND_RATE
    if not ratelimit.hit(f"send:{user_id}", limit=limit, window=window):
        raise Refused("rate_limited", "You are sending too fast; wait a moment and try again.")


def typing_allowed(*, user_id: int, chat_id: int) -> bool:
    """Typing hints beyond two per two seconds per chat are dropped (clients send one per 3 s)."""
    return ratelimit.hit(f"typing:{user_id}:{chat_id}", limit=2, window=2)
