"""Per-user rate limits shared by the socket, the HTML fallback and the API."""

from __future__ import annotations

from django.conf import settings

from chats.validation import Refused
from chatsite import ratelimit

RATE_LIMITED = "You are sending too fast; wait a moment and try again."


def check_send_rate(*, user_id: int) -> None:
    if send_allowance(user_id=user_id, count=1) < 1:
        raise Refused("rate_limited", RATE_LIMITED)


def send_allowance(*, user_id: int, count: int) -> int:
    """Count `count` sends; how many of them (the first ones) the limit lets through."""
    limit, window = settings.SEND_RATE
    return ratelimit.hit_many(f"send:{user_id}", count, limit=limit, window=window)


async def send_allowance_async(*, user_id: int, count: int) -> int:
    """`send_allowance` on the event loop."""
    limit, window = settings.SEND_RATE
    return await ratelimit.hit_many_async(f"send:{user_id}", count, limit=limit, window=window)


def typing_allowed(*, user_id: int, chat_id: int) -> bool:
    """Typing hints beyond two per two seconds per chat are dropped (clients send one per 3 s)."""
    return ratelimit.hit(f"typing:{user_id}:{chat_id}", limit=2, window=2)
