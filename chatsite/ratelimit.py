"""Fixed-window rate limits kept in the cache, so every process shares them under Redis."""

from __future__ import annotations

import time

from django.core.cache import cache


def hit(key: str, *, limit: int, window: int) -> bool:
    """Count one event for `key`; True while the window's count is within `limit`."""
    bucket = int(time.time() // window)
    cache_key = f"rl:{key}:{bucket}"
    cache.add(cache_key, 0, timeout=window + 1)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=window + 1)
        count = 1
    return count <= limit


def retry_after(window: int) -> int:
    """Seconds until the current window ends."""
    return max(1, int(window - time.time() % window))
