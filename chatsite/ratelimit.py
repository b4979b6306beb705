"""Fixed-window rate limits, shared by every process through Redis when REDIS_URL is set.

Under Redis one process-wide client does one round trip (INCR + EXPIRE in a pipeline): the
Django cache would open a connection per socket, since each consumer has its own context.
Without Redis the cache (in-process) counts.

Limits fail open: when Redis is unreachable the event is allowed and the outage logged, so a
Redis failure never stops people from sending or logging in; the limits return with Redis.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


@functools.cache
def _redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _prefix() -> str:
    return str(settings.CACHES["default"].get("KEY_PREFIX", ""))


def hit(key: str, *, limit: int, window: int) -> bool:
    """Count one event for `key`; True while the window's count is within `limit`."""
    bucket = int(time.time() // window)
    cache_key = f"rl:{key}:{bucket}"
    try:
        if settings.REDIS_URL:
            pipe = _redis(settings.REDIS_URL).pipeline(transaction=False)
            pipe.incr(f"{_prefix()}:{cache_key}")
            pipe.expire(f"{_prefix()}:{cache_key}", window + 1)
            count, _ = pipe.execute()
        else:
            cache.add(cache_key, 0, timeout=window + 1)
            try:
                count = cache.incr(cache_key)
            except ValueError:  # expired between add and incr
                cache.add(cache_key, 1, timeout=window + 1)
                count = 1
    except Exception:
        logger.warning("rate limit %s not counted: the cache is unavailable", key, exc_info=True)
        return True
    return int(count) <= limit


def retry_after(window: int) -> int:
    """Seconds until the current window ends."""
    return max(1, int(window - time.time() % window))
