"""The presence leases: which users have a socket open, in any server process.

Sockets are registered in a store: Redis when REDIS_URL is set (shared by every process),
else a dict in this process (the embedded mode runs one process). Each registration is a
lease renewed while the socket lives, so a crashed process's sockets lapse on their own;
after a user's last socket closes, a grace period keeps them online (a reload does not
flap). Every check-and-change runs atomically in the store (Lua scripts on Redis, a lock
locally), so tabs opening and closing at once in several processes agree on one transition.

Infrastructure shared by both worlds, like ratelimit.py: the sockets' runtime writes the
leases (chats/realtime/presence.py), the rules read them (chats/presence.py).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
import time
from functools import cache
from typing import Any, Protocol

from django.conf import settings

from chatsite import redis_clients
from chatsite.redis_clients import Batched


class Store(Protocol):
    def attach(self, user_id: int, socket_id: str, limit: int) -> int:
        """Register a socket: -1 when the user already has `limit` sockets (nothing stored),
        1 when the user came online, 0 when they already were."""

    def detach(self, user_id: int, socket_id: str, token: str) -> bool:
        """Unregister a socket; True when it was the last one (the grace period starts,
        identified by `token`)."""

    def renew(self, user_id: int, socket_id: str) -> None: ...

    def settle(self, user_id: int, token: str) -> bool:
        """End the grace period `token`: True when the user is now offline."""

    def online(self, user_ids: list[int]) -> set[int]: ...

    def sockets(self, user_id: int) -> int:
        """How many sockets the user has open now, anywhere (no grace period: push/)."""
        ...

    def forget(self, user_id: int) -> None:
        """Drop the user's leases and grace period (a deleted account)."""

    # The same, for the event loop (the sockets' calls): no worker-thread hop.

    async def attach_async(self, user_id: int, socket_id: str, limit: int) -> int: ...

    async def detach_async(self, user_id: int, socket_id: str, token: str) -> bool: ...

    async def renew_async(self, user_id: int, socket_id: str) -> None: ...

    async def settle_async(self, user_id: int, token: str) -> bool: ...

    async def online_async(self, user_ids: list[int]) -> set[int]: ...


class LocalStore:
    """The store for a single process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.leases: dict[int, dict[str, float]] = {}
        self.grace: dict[int, tuple[str, float]] = {}

    def _live(self, user_id: int, now: float) -> dict[str, float]:
        leases = self.leases.setdefault(user_id, {})
        for socket_id in [s for s, expires in leases.items() if expires <= now]:
            del leases[socket_id]
        return leases

    def _in_grace(self, user_id: int, now: float) -> bool:
        entry = self.grace.get(user_id)
        return entry is not None and entry[1] > now

    def attach(self, user_id: int, socket_id: str, limit: int) -> int:
        now = time.time()
        with self.lock:
            leases = self._live(user_id, now)
            if len(leases) >= limit:
                return -1
            was_online = bool(leases) or self._in_grace(user_id, now)
            self.grace.pop(user_id, None)
            leases[socket_id] = now + lease_seconds()
            return 0 if was_online else 1

    def detach(self, user_id: int, socket_id: str, token: str) -> bool:
        now = time.time()
        with self.lock:
            leases = self._live(user_id, now)
            leases.pop(socket_id, None)
            if leases:
                return False
            self.grace[user_id] = (token, now + _grace_ttl())
            return True

    def renew(self, user_id: int, socket_id: str) -> None:
        with self.lock:
            leases = self.leases.get(user_id, {})
            if socket_id in leases:
                leases[socket_id] = time.time() + lease_seconds()

    def settle(self, user_id: int, token: str) -> bool:
        now = time.time()
        with self.lock:
            entry = self.grace.get(user_id)
            if entry is None or entry[0] != token or self._live(user_id, now):
                return False
            del self.grace[user_id]
            return True

    def online(self, user_ids: list[int]) -> set[int]:
        now = time.time()
        with self.lock:
            return {uid for uid in user_ids if self._live(uid, now) or self._in_grace(uid, now)}

    def sockets(self, user_id: int) -> int:
        with self.lock:
            return len(self._live(user_id, time.time()))

    def forget(self, user_id: int) -> None:
        with self.lock:
            self.leases.pop(user_id, None)
            self.grace.pop(user_id, None)

    # In process: no I/O, so the event loop calls these directly.

    async def attach_async(self, user_id: int, socket_id: str, limit: int) -> int:
        return self.attach(user_id, socket_id, limit)

    async def detach_async(self, user_id: int, socket_id: str, token: str) -> bool:
        return self.detach(user_id, socket_id, token)

    async def renew_async(self, user_id: int, socket_id: str) -> None:
        self.renew(user_id, socket_id)

    async def settle_async(self, user_id: int, token: str) -> bool:
        return self.settle(user_id, token)

    async def online_async(self, user_ids: list[int]) -> set[int]:
        return self.online(user_ids)


_ATTACH = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[4]) then return -1 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
local grace = redis.call('DEL', KEYS[2])
if n == 0 and grace == 0 then return 1 end
return 0
"""

_DETACH = """
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
return 1
"""

_SETTLE = """
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
redis.call('DEL', KEYS[2])
return 1
"""

_RENEW = """
redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 0
"""

_ONLINE = """
if redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[1], '+inf') > 0 then return 1 end
return redis.call('EXISTS', KEYS[2])
"""

# On the event loop, the sockets' calls go to Redis together (a connect storm: one script
# call for all the leases queued meanwhile, not one each).
_ATTACH_ASYNC = Batched(_ATTACH, keys=2, args=5)
_DETACH_ASYNC = Batched(_DETACH, keys=2, args=4)
_SETTLE_ASYNC = Batched(_SETTLE, keys=2, args=2)
_ONLINE_ASYNC = Batched(_ONLINE, keys=2, args=1)
_RENEW_ASYNC = Batched(_RENEW, keys=1, args=3)


class RedisStore:
    """The store shared by every process: per user, a sorted set of socket ids scored by
    lease expiry, and a grace key holding the token of the pending offline transition."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.client = redis_clients.threaded(url)
        self.prefix = f"{prefix}:presence"
        self._attach = self.client.register_script(_ATTACH)
        self._detach = self.client.register_script(_DETACH)
        self._settle = self.client.register_script(_SETTLE)

    def _keys(self, user_id: int) -> list[str]:
        return [f"{self.prefix}:sockets:{user_id}", f"{self.prefix}:grace:{user_id}"]

    async def _run_async(self, script: Batched, user_id: int, args: list[Any]) -> int:
        return await script(self.url, self._keys(user_id), args)

    @staticmethod
    def _attach_args(socket_id: str, limit: int) -> list[str | float]:
        now = time.time()
        return [now, now + lease_seconds(), socket_id, limit, int(lease_seconds()) + 1]

    @staticmethod
    def _detach_args(socket_id: str, token: str) -> list[str | float]:
        return [time.time(), socket_id, token, int(_grace_ttl() * 1000)]

    def _renew_on(self, pipe: Any, user_id: int, socket_id: str) -> None:
        sockets, _grace = self._keys(user_id)
        pipe.zadd(sockets, {socket_id: time.time() + lease_seconds()}, xx=True)
        pipe.expire(sockets, int(lease_seconds()) + 1)

    def _online_on(self, pipe: Any, user_ids: list[int]) -> None:
        now = time.time()
        for uid in user_ids:
            sockets, grace = self._keys(uid)
            pipe.zcount(sockets, f"({now}", "+inf")
            pipe.exists(grace)

    @staticmethod
    def _online_of(user_ids: list[int], replies: list[int]) -> set[int]:
        return {
            uid for i, uid in enumerate(user_ids) if replies[2 * i] > 0 or replies[2 * i + 1] > 0
        }

    def attach(self, user_id: int, socket_id: str, limit: int) -> int:
        args = self._attach_args(socket_id, limit)
        return int(self._attach(keys=self._keys(user_id), args=args))

    def detach(self, user_id: int, socket_id: str, token: str) -> bool:
        args = self._detach_args(socket_id, token)
        return bool(self._detach(keys=self._keys(user_id), args=args))

    def renew(self, user_id: int, socket_id: str) -> None:
        pipe = self.client.pipeline()
        self._renew_on(pipe, user_id, socket_id)
        pipe.execute()

    def settle(self, user_id: int, token: str) -> bool:
        return bool(self._settle(keys=self._keys(user_id), args=[time.time(), token]))

    def online(self, user_ids: list[int]) -> set[int]:
        if not user_ids:
            return set()
        pipe = self.client.pipeline(transaction=False)
        self._online_on(pipe, user_ids)
        return self._online_of(user_ids, pipe.execute())

    def sockets(self, user_id: int) -> int:
        sockets, _grace = self._keys(user_id)
        return int(self.client.zcount(sockets, f"({time.time()}", "+inf"))

    def forget(self, user_id: int) -> None:
        self.client.delete(*self._keys(user_id))

    async def attach_async(self, user_id: int, socket_id: str, limit: int) -> int:
        args = self._attach_args(socket_id, limit)
        return int(await self._run_async(_ATTACH_ASYNC, user_id, args))

    async def detach_async(self, user_id: int, socket_id: str, token: str) -> bool:
        args = self._detach_args(socket_id, token)
        return bool(await self._run_async(_DETACH_ASYNC, user_id, args))

    async def renew_async(self, user_id: int, socket_id: str) -> None:
        sockets, _grace = self._keys(user_id)
        args = [time.time() + lease_seconds(), socket_id, int(lease_seconds()) + 1]
        await _RENEW_ASYNC(self.url, [sockets], args)

    async def settle_async(self, user_id: int, token: str) -> bool:
        return bool(await self._run_async(_SETTLE_ASYNC, user_id, [time.time(), token]))

    async def online_async(self, user_ids: list[int]) -> set[int]:
        # One batched script item per user: every hello of a connect storm asked with a
        # pipeline of its own, and the pipelines queued for the loop's pooled connections
        # (7% of the storm's CPU went to rescheduling their wait timeouts).
        now = time.time()
        replies = await asyncio.gather(
            *(_ONLINE_ASYNC(self.url, self._keys(uid), [now]) for uid in user_ids)
        )
        return {uid for uid, online in zip(user_ids, replies, strict=True) if online}


def lease_seconds() -> float:
    return float(settings.PRESENCE_LEASE_SECONDS)


def _grace_ttl() -> float:
    # The grace key outlives the grace period so that the settling task (which runs at its
    # end) still finds it; if that task's process died, the key lapses on its own.
    return float(settings.PRESENCE_GRACE_SECONDS) * 2 + 10


@cache
def _store_for(redis_url: str, prefix: str) -> Store:
    if redis_url:
        return RedisStore(redis_url, prefix)
    return LocalStore()


def store() -> Store:
    prefix = settings.CACHES["default"].get("KEY_PREFIX") or "chatsite"
    return _store_for(settings.REDIS_URL, prefix)


# The users with a socket open in this process, and how many: a lease here implies one in
# the store, so a recipient found here is online without asking the store or the database
# (push/dispatch.py, in its own thread: a dict lookup is atomic). Written on the event loop
# by chats/realtime/presence.py, after the lease is taken and before it is given back.
_here: collections.Counter[int] = collections.Counter()
_here_lock = threading.Lock()  # tests run sockets on more than one loop and thread


def opened_here(user_id: int) -> None:
    with _here_lock:
        _here[user_id] += 1


def closed_here(user_id: int) -> None:
    with _here_lock:
        _here[user_id] -= 1
        if _here[user_id] <= 0:
            del _here[user_id]


def sockets_here(user_id: int) -> int:
    """How many sockets the user has open in this process (a lower bound of `sockets`)."""
    return _here.get(user_id, 0)


def reset_local() -> None:
    """Forget every local registration (tests start each from zero)."""
    with _here_lock:
        _here.clear()
    with contextlib.suppress(Exception):
        s = store()
        if isinstance(s, LocalStore):
            with s.lock:
                s.leases.clear()
                s.grace.clear()
