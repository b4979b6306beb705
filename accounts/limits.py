"""Per-user rate limits on account features, shared by the pages and the JSON API."""

from __future__ import annotations

from django.conf import settings

from chatsite import ratelimit

SEARCH_LIMITED = "You are searching too fast. Wait a minute and try again."


def user_keys(user_id: int) -> list[str]:
    """The rate-limit keys counting this user's actions here (chats.limits has the rest)."""
    return [f"search:{user_id}"]


def search_allowed(*, user_id: int) -> bool:
    """Count one search against SEARCH_RATE; False once the user is over it."""
    limit, window = settings.SEARCH_RATE
    return ratelimit.hit(f"search:{user_id}", limit=limit, window=window)


def search_retry_after() -> int:
    """Seconds until the search budget refills."""
    return ratelimit.retry_after(settings.SEARCH_RATE[1])
