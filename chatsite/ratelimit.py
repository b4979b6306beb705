"""Fixed-window rate limits kept in the cache, so every process shares them under Redis."""

from __future__ import annotations

import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)


def hit(key: str, *, limit: int, window: int) -> bool:
    """Count one event for `key`; True while the window's count is within `limit`.

    Fails open: when the cache (Redis) is unreachable the event is allowed and the outage
    logged, so a Redis failure never stops people from sending or logging in; the limits
    come back with the cache."""
    bucket = int(time.time() // window)
    cache_key = f"rl:{key}:{bucket}"
    try:
        cache.add(cache_key, 0, timeout=window + 1)
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.add(cache_key, 1, timeout=window + 1)
            count = 1
    except Exception:
        logger.warning("rate limit %s not counted: the cache is unavailable", key, exc_info=True)
        return True
    return count <= limit


def retry_after(window: int) -> int:
    """Seconds until the current window ends."""
    return max(1, int(window - time.time() % window))
