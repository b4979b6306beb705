"""Fixed-window rate limits, shared by every process through Redis when REDIS_URL is set.

Under Redis one process-wide client does one round trip (INCR + EXPIRE in a pipeline): the
Django cache would open a connection per socket, since each consumer has its own context.
Without Redis the cache (in-process) counts.

Limits fail open: when Redis is unreachable the event is allowed and the outage logged, so a
Redis failure never stops people from sending or logging in; the limits return with Redis.
"""

from __future__ import annotations

import logging
import math
import time

from django.conf import settings
from django.core.cache import cache

from chatsite import redis_clients

logger = logging.getLogger(__name__)


def _prefix() -> str:
    return str(settings.CACHES["default"].get("KEY_PREFIX", ""))


def hit(key: str, *, limit: int, window: int) -> bool:
    """Count one event for `key`; True while the window's count is within `limit`."""
    return hit_many(key, 1, limit=limit, window=window) == 1


def hit_many(key: str, count: int, *, limit: int, window: int) -> int:
    """Count `count` events for `key` at once (one round trip); how many of them, the
    first ones, are within the window's `limit`."""
    cache_key = _bucket(key, window)
    try:
        if settings.REDIS_URL:
            pipe = redis_clients.threaded(settings.REDIS_URL).pipeline(transaction=False)
            pipe.incrby(f"{_prefix()}:{cache_key}", count)
            pipe.expire(f"{_prefix()}:{cache_key}", window + 1)
            total, _ = pipe.execute()
        else:
            cache.add(cache_key, 0, timeout=window + 1)
            try:
                total = cache.incr(cache_key, count)
            except ValueError:  # expired between add and incr
                cache.add(cache_key, count, timeout=window + 1)
                total = count
    except Exception:
        logger.warning("rate limit %s not counted: the cache is unavailable", key, exc_info=True)
        return count
    return _within(count, int(total), limit)


async def hit_many_async(key: str, count: int, *, limit: int, window: int) -> int:
    """`hit_many` for the event loop: Redis through an asyncio client, the counts of every
    socket of the loop going together (`redis_clients.Batched`: a pipeline per send batch
    cost the server 12% of its CPU at 1,400 msg/s); the in-process cache (no Redis)
    is counted in place, it does no I/O."""
    if not settings.REDIS_URL:
        return hit_many(key, count, limit=limit, window=window)
    cache_key = f"{_prefix()}:{_bucket(key, window)}"
    try:
        total = await _COUNT(settings.REDIS_URL, [cache_key], [count, window + 1])
    except Exception:
        logger.warning("rate limit %s not counted: Redis is unavailable", key, exc_info=True)
        return count
    return _within(count, total, limit)


# INCRBY and EXPIRE (a key may come more than once in a batch): the key's new total.
_COUNT = redis_clients.Batched(
    """
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return total
""",
    keys=1,
    args=2,
)


def forget(keys: list[str]) -> None:
    """Drop every window's count of each of `keys` and of the keys under it (`typing:5`
    also drops `typing:5:12`): a deleted account leaves nothing in Redis. In-process
    counts (no Redis) lapse with their window."""
    if not settings.REDIS_URL or not keys:
        return
    client = redis_clients.threaded(settings.REDIS_URL)
    for key in keys:
        found = list(client.scan_iter(match=f"{_prefix()}:rl:{key}:*", count=1000))
        if found:
            client.delete(*found)


def retry_after(window: int) -> int:
    """Whole seconds until the current window of `window` seconds ends (at least 1)."""
    return max(1, math.ceil(window - time.time() % window))


def _bucket(key: str, window: int) -> str:
    return f"rl:{key}:{int(time.time() // window)}"


def _within(count: int, total: int, limit: int) -> int:
    """How many of the last `count` events of a window now at `total` are within `limit`."""
    return max(0, min(count, limit - (total - count)))
