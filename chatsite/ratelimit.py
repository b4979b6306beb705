"""Sliding-window rate limits, shared by every process through Redis when REDIS_URL is set.

A limit of `limit` events per `window` seconds admits an event while fewer than `limit`
were admitted in the `window` seconds before it, so no span of `window` seconds ever holds
more than `limit` (a fixed window let a burst across its end through twice). Each key keeps
the times of the events it admitted (a Redis sorted set, or a deque in process): at most
`limit` of them, and refused events are not kept, so a client that keeps knocking is let in
again as soon as its oldest event leaves the window, and `retry_after` says when that is.
The weighted two-window approximation (two counters) was not taken: a burst at the end of
one window followed by events early in the next gets past it. pyrate-limiter (installed for
schemathesis) keeps the same log, but one client call per bucket, all-or-nothing weights
and a leak thread: the send path needs the first n of a batch and one batched script per
event loop (`redis_clients.Batched`).

Under Redis every count is one round trip (one Lua script): the Django cache would open a
connection per socket, since each consumer has its own context. Without Redis the process
counts in memory.

Limits fail open: when Redis is unreachable the event is allowed and the outage logged, so a
Redis failure never stops people from sending or logging in; the limits return with Redis.
"""

from __future__ import annotations

import collections
import functools
import logging
import math
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from chatsite import redis_clients

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Taken:
    """What a count let through: the first `allowed` events, and the whole seconds until
    the limit admits one more (0: it would now; at least 1 when some were refused). A count
    of 0 events only asks when."""

    allowed: int
    retry_after: int = 0


def hit(key: str, *, limit: int, window: int) -> bool:
    """Count one event for `key`; True while it is within `limit` per `window` seconds."""
    return take(key, 1, limit=limit, window=window).allowed == 1


def hit_many(key: str, count: int, *, limit: int, window: int) -> int:
    """Count `count` events for `key` at once (one round trip); how many of them, the
    first ones, are within `limit`."""
    return take(key, count, limit=limit, window=window).allowed


def take(key: str, count: int, *, limit: int, window: int) -> Taken:
    """`hit_many`, saying also when the limit admits one more event if it refused some."""
    now = time.time()
    if not settings.REDIS_URL:
        return _local.take(key, count, limit, window, now)
    try:
        script = _sync_script(settings.REDIS_URL)
        packed = script(keys=[_key(key)], args=_args(count, limit, window, now))
    except Exception:
        logger.warning("rate limit %s not counted: Redis is unavailable", key, exc_info=True)
        return Taken(count)
    return _unpack(int(packed), count)


async def take_async(key: str, count: int, *, limit: int, window: int) -> Taken:
    """`take` for the event loop: Redis through an asyncio client, the counts of every
    socket of the loop going together (`redis_clients.Batched`: a pipeline per send batch
    cost the server 12% of its CPU at 1,400 msg/s); in process it is counted in place, it
    does no I/O."""
    now = time.time()
    if not settings.REDIS_URL:
        return _local.take(key, count, limit, window, now)
    try:
        packed = await _TAKE(settings.REDIS_URL, [_key(key)], _args(count, limit, window, now))
    except Exception:
        logger.warning("rate limit %s not counted: Redis is unavailable", key, exc_info=True)
        return Taken(count)
    return _unpack(packed, count)


async def hit_many_async(key: str, count: int, *, limit: int, window: int) -> int:
    """`hit_many` for the event loop (see `take_async`)."""
    return (await take_async(key, count, limit=limit, window=window)).allowed


# One key's count (a key may come more than once in a batch). ARGV: now and window in ms,
# limit, count, a token that keeps this call's members apart from every other's. The log's
# entries are admitted events scored by their time; those at or before now - window have
# left it. The reply packs the admitted count and the wait in ms until one more would be
# admitted (0: now) in one integer, `wait * (count + 1) + allowed`, as Batched returns one.
_TAKE_LUA = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local limit, count = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
local allowed = math.max(0, math.min(count, limit - used))
for i = 1, allowed do
  redis.call('ZADD', KEYS[1], now, ARGV[5] .. i)
end
if allowed > 0 then
  redis.call('PEXPIRE', KEYS[1], window)
end
local wait = 0
if used + allowed >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  wait = oldest[2] and (tonumber(oldest[2]) + window - now) or window
end
return wait * (count + 1) + allowed
"""
_TAKE = redis_clients.Batched(_TAKE_LUA, keys=1, args=5)


@functools.cache
def _sync_script(url: str) -> Any:
    return redis_clients.threaded(url).register_script(_TAKE_LUA)


def _key(key: str) -> str:
    return f"{_prefix()}:rl:{key}:log"


def _prefix() -> str:
    return str(settings.CACHES["default"].get("KEY_PREFIX", ""))


def _args(count: int, limit: int, window: int, now: float) -> list[Any]:
    return [int(now * 1000), window * 1000, limit, count, f"{random.getrandbits(48):x}:"]


def _unpack(packed: int, count: int) -> Taken:
    wait_ms, allowed = divmod(packed, count + 1)
    return Taken(allowed, _seconds(wait_ms / 1000))


def _seconds(wait: float) -> int:
    """Whole seconds to wait (a part of one counts as one); 0 for none."""
    return max(1, math.ceil(wait)) if wait > 0 else 0


class _Local:
    """The in-process log (no Redis): per key, the times of its admitted events, oldest
    first. Keys whose events have all left their window are dropped every SWEEP counts."""

    SWEEP = 4096

    def __init__(self) -> None:
        self.lock = threading.Lock()  # request threads and the event loop count together
        self.logs: dict[str, tuple[int, collections.deque[float]]] = {}
        self.counted = 0

    def take(self, key: str, count: int, limit: int, window: int, now: float) -> Taken:
        with self.lock:
            entry = self.logs.get(key)
            log = entry[1] if entry else collections.deque()
            while log and log[0] <= now - window:
                log.popleft()
            allowed = max(0, min(count, limit - len(log)))
            log.extend([now] * allowed)
            oldest = log[0] if log else now  # (no log with a full limit: a limit of 0)
            wait = oldest + window - now if len(log) >= limit else 0.0
            if log:
                self.logs[key] = (window, log)
            else:
                self.logs.pop(key, None)
            self.counted += 1
            if self.counted % self.SWEEP == 0:
                self.sweep(now)
        return Taken(allowed, _seconds(wait))

    def sweep(self, now: float) -> None:
        for key, (window, log) in list(self.logs.items()):
            if log[-1] <= now - window:
                del self.logs[key]

    def forget(self, keys: list[str]) -> None:
        with self.lock:
            for name in list(self.logs):
                if any(name == key or name.startswith(f"{key}:") for key in keys):
                    del self.logs[name]

    def reset(self) -> None:
        with self.lock:
            self.logs.clear()


_local = _Local()


def forget(keys: list[str]) -> None:
    """Drop the log of each of `keys` and of the keys under it (`typing:5` also drops
    `typing:5:12`): a deleted account leaves nothing in Redis."""
    if not keys:
        return
    if not settings.REDIS_URL:
        _local.forget(keys)
        return
    client = redis_clients.threaded(settings.REDIS_URL)
    for key in keys:
        found = list(client.scan_iter(match=f"{_prefix()}:rl:{key}:*", count=1000))
        if found:
            client.delete(*found)


def reset_local() -> None:
    """Forget every in-process count (tests start from none, as a cleared Redis does)."""
    _local.reset()
