"""Every Redis client of the process but the channel layer's (chatsite/layers.py): asyncio
clients, one per event loop, shared by every module (presence leases, rate limits), since an
asyncio connection belongs to the loop that opened it; and one thread-safe client per URL
for the worker threads and request views (`threaded`).

Every pool here, and the channel layer's (chatsite/layers.py), retries a command whose
connection died: after Redis restarts, each pooled connection is still open on this side
and the first command on it would fail ("Connection closed by server"), losing a doorbell
or a socket's connect, although Redis is back. The retry reconnects (a pub/sub connection
also resubscribes) and sends the command again, a few times within a fraction of a second.
Timeouts are not retried: a Redis that does not answer is failed over quickly instead.

With Sentinel (settings.REDIS_SENTINELS) every client here, the channel layer's and the
cache's ask the Sentinels for the current primary on each new connection: after a
failover the first command on a dead connection reconnects, through the same retry, to the
promoted replica. REDIS_URL then only gives the database number and the password, and TLS
to the primary when it is rediss:// (the Sentinels themselves are asked over plain TCP); a
unix:// REDIS_URL is refused at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import re
import weakref
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

from chatsite import aio

# A connect storm's calls queue for one of these (the default pool fails with "Too many
# connections" instead), up to POOL_WAIT seconds.
MAX_CONNECTIONS = 32
POOL_WAIT = 10
TIMEOUT = 2  # seconds for a connect or a reply
# A loop's pool keeps a connection per command it ever had in flight at once (one per
# batched script, chatsite/redis_clients.Batched); after this long without a command its
# idle connections are closed (they reopen on the next command), so a quiet server holds
# no more Redis connections than it did before a burst.
IDLE_CLOSE_SECONDS = 10.0


def retry_policy() -> Retry:
    """Reconnect and resend up to three times (40, 80, 160 ms apart) on a dead connection."""
    backoff = ExponentialBackoff(cap=0.25, base=0.02)
    return Retry(backoff, 3, supported_errors=(RedisConnectionError,))


Sentinels = list[tuple[str, int]]
# Asking a Sentinel for the primary: as quick to give up as a command.
SENTINEL_KWARGS = {"socket_timeout": TIMEOUT, "socket_connect_timeout": TIMEOUT}


def parse_sentinels(value: str) -> Sentinels:
    """`host:port,host:port` (REDIS_SENTINELS) as [(host, port)]; ValueError when malformed."""
    sentinels = []
    for entry in filter(None, (item.strip() for item in value.split(","))):
        host, _, port = entry.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"a Sentinel is host:port, got {entry!r}")
        sentinels.append((host.strip("[]"), int(port)))
    return sentinels


UNIX_WITH_SENTINEL = (
    "a unix:// socket is one local Redis, not a primary the Sentinels find: give "
    "redis:// (or rediss:// for TLS) with the database and password, or unset REDIS_SENTINELS"
)


def url_options(url: str) -> dict[str, Any]:
    """What a Sentinel-managed connection keeps of `url`: database, user, password, its
    query's options, and `ssl: True` for rediss:// (`with_connection_class` turns it into
    the TLS connection class); not the host and port, which the Sentinels give. A unix://
    url is a ValueError."""
    options = dict(redis.connection.parse_url(url))
    kind = options.pop("connection_class", None)
    if kind is redis.connection.UnixDomainSocketConnection:
        raise ValueError(UNIX_WITH_SENTINEL)
    options.pop("host", None)
    options.pop("port", None)
    if kind is redis.connection.SSLConnection:
        options["ssl"] = True
    return options


def with_connection_class(options: dict[str, Any], *, asyncio: bool) -> dict[str, Any]:
    """Sentinel pool options (`url_options`, or a layer's `hosts` entry) with the connection
    class that asks the Sentinels for the primary, over TLS when they say `ssl`. (Given a
    connection class, redis-py's Sentinel pools drop `ssl`: TLS would silently be off.)"""
    options = dict(options)
    tls = bool(options.pop("ssl", False))
    classes: dict[tuple[bool, bool], type] = {
        (False, False): SentinelConnection,
        (True, False): SentinelSSLConnection,
        (False, True): AsyncSentinelConnection,
        (True, True): AsyncSentinelSSLConnection,
    }
    return {**options, "connection_class": classes[tls, asyncio]}


def sentinel_config() -> tuple[Sentinels, str] | None:
    """(sentinels, primary's name) when Redis is reached through Sentinel, else None."""
    from django.conf import settings

    sentinels: Sentinels = getattr(settings, "REDIS_SENTINELS", [])
    return (sentinels, settings.REDIS_SENTINEL_MASTER) if sentinels else None


def layer_host(url: str, sentinels: Sentinels, master: str) -> dict[str, Any]:
    """A channels-redis `hosts` entry for `url`, or for the primary `master` that
    `sentinels` name (channels-redis makes a SentinelConnectionPool of it)."""
    if not sentinels:
        return {"address": url}
    return {
        "sentinels": sentinels,
        "master_name": master,
        "sentinel_kwargs": SENTINEL_KWARGS,
        **url_options(url),
    }


class SentinelConnection(redis.sentinel.SentinelManagedConnection):
    """A connection to the primary that asks the Sentinels where it is on every (re)connect.
    redis-py 8.1 reconnects a dropped Sentinel-managed connection at the address it had (its
    command path calls `connect_check_health`, not the class's `connect`): after a failover
    that is the dead primary, until the pool is rebuilt."""

    def _connect(self) -> Any:
        if self.connection_pool.is_master:
            self.host, self.port = self.connection_pool.get_master_address()
        return super()._connect()


class AsyncSentinelConnection(redis.asyncio.sentinel.SentinelManagedConnection):
    """`SentinelConnection` for asyncio clients and the channel layer."""

    async def _connect(self) -> None:
        if self.connection_pool.is_master:
            self.host, self.port = await self.connection_pool.get_master_address()
        await super()._connect()


class SentinelSSLConnection(SentinelConnection, redis.sentinel.SentinelManagedSSLConnection):
    """`SentinelConnection` over TLS (a rediss:// REDIS_URL)."""


class AsyncSentinelSSLConnection(
    AsyncSentinelConnection, redis.asyncio.sentinel.SentinelManagedSSLConnection
):
    """`AsyncSentinelConnection` over TLS (a rediss:// REDIS_URL)."""


class SentinelPool:
    """Django's RedisCache `pool_class` (OPTIONS) for a primary found through Sentinel:
    OPTIONS' `sentinels` and `master_name` say where, the LOCATION url the rest."""

    @classmethod
    def from_url(
        cls, url: str, *, sentinels: Sentinels, master_name: str, **options: Any
    ) -> redis.sentinel.SentinelConnectionPool:
        manager = redis.sentinel.Sentinel(sentinels, sentinel_kwargs=SENTINEL_KWARGS)
        return redis.sentinel.SentinelConnectionPool(
            master_name,
            manager,
            **with_connection_class({**url_options(url), **options}, asyncio=False),
        )


class _BlockingSentinelPool(
    redis.asyncio.sentinel.SentinelConnectionPool, redis.asyncio.BlockingConnectionPool
):
    """The primary through Sentinel, with the bounded waiting pool of `for_loop`."""


def async_client(url: str, *, blocking: bool = False, **kwargs: Any) -> Any:
    """A new asyncio client for `url`, or for the primary Sentinel names when configured;
    `blocking`: a pool that waits for a free connection (`max_connections`, `timeout`)."""
    config = sentinel_config()
    if config is None:
        if blocking:
            pool = redis.asyncio.BlockingConnectionPool.from_url(url, **kwargs)
            return redis.asyncio.Redis(connection_pool=pool)
        return redis.asyncio.Redis.from_url(url, **kwargs)
    sentinels, master = config
    manager = redis.asyncio.sentinel.Sentinel(sentinels, sentinel_kwargs=SENTINEL_KWARGS)
    pool_class = (
        _BlockingSentinelPool if blocking else redis.asyncio.sentinel.SentinelConnectionPool
    )
    return manager.master_for(
        master,
        connection_pool_class=pool_class,
        **with_connection_class({**url_options(url), **kwargs}, asyncio=True),
    )


@functools.cache
def threaded(url: str) -> redis.Redis:
    """The process's blocking client for `url`, shared by every thread (its pool hands each
    command a connection); it gives up after TIMEOUT seconds, like the loops' clients."""
    timeouts = {"socket_timeout": TIMEOUT, "socket_connect_timeout": TIMEOUT}
    config = sentinel_config()
    if config is None:
        return redis.Redis.from_url(url, **timeouts)
    manager = redis.sentinel.Sentinel(config[0], sentinel_kwargs=SENTINEL_KWARGS)
    return manager.master_for(
        config[1], **with_connection_class({**url_options(url), **timeouts}, asyncio=False)
    )


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = (
    weakref.WeakKeyDictionary()
)


def for_loop(url: str) -> Any:
    """This event loop's client for `url` (a bounded pool that waits for a free connection,
    whose idle connections close after IDLE_CLOSE_SECONDS without a command)."""
    loop = asyncio.get_running_loop()
    by_url = _clients.setdefault(loop, {})
    client: Any = by_url.get(url)
    if client is None:
        client = by_url[url] = async_client(
            url,
            blocking=True,
            max_connections=MAX_CONNECTIONS,
            timeout=POOL_WAIT,
            socket_timeout=TIMEOUT,
            socket_connect_timeout=TIMEOUT,
            retry=retry_policy(),
        )
        _Idle(client, loop).check()
    client.chatsite_used = loop.time()
    return client


class _Idle:
    """Closes a loop client's idle connections once it has had no command for
    IDLE_CLOSE_SECONDS. A timer callback, not a task: nothing is left pending when the loop
    closes."""

    def __init__(self, client: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.client, self.loop = client, loop
        self.closing: asyncio.Task[None] | None = None

    def check(self) -> None:
        quiet = self.loop.time() - getattr(self.client, "chatsite_used", 0.0)
        if quiet >= IDLE_CLOSE_SECONDS and self.closing is None:
            self.closing = self.loop.create_task(self.close_idle())
        self.loop.call_later(IDLE_CLOSE_SECONDS / 3, self.check)

    async def close_idle(self) -> None:
        try:
            with contextlib.suppress(Exception):  # a socket that fails to close is gone
                await self.client.connection_pool.disconnect(inuse_connections=False)
        finally:
            self.closing = None


class Script:
    """A Lua script, run by its SHA on any asyncio client: one command (one reply to parse)
    however many keys it touches. Loaded on first use, and again after Redis restarted."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 (Redis's script id)

    async def __call__(self, client: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.eval(self.text, len(keys), *keys, *args)


class Batched:
    """A Lua script for one item (`keys` keys, `args` arguments, one integer result) that
    the callers of an event loop run together: one call to Redis takes every item queued
    while the one before was in flight. A round trip per item (a connect storm's presence
    leases, every send's rate limit) cost more of the server's CPU in redis-py than in
    Redis; the batch costs one command and one reply."""

    def __init__(self, body: str, *, keys: int, args: int) -> None:
        self.keys, self.args = keys, args
        # The body, with its KEYS[n] and ARGV[n] read at the item's offset, as a function
        # called once per item (no tables made per item).
        body = re.sub(r"KEYS\[(\d+)\]", r"KEYS[k + \1]", body.strip())
        body = re.sub(r"ARGV\[(\d+)\]", r"ARGV[a + \1]", body)
        self.script = Script(
            f"local function one(k, a)\n{body}\nend\n"
            "local out = {}\n"
            f"for i = 1, #KEYS / {keys} do\n"
            f"  out[i] = one((i - 1) * {keys}, (i - 1) * {args})\n"
            "end\nreturn out\n"
        )
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Queue]] = (
            weakref.WeakKeyDictionary()
        )

    def __call__(self, url: str, keys: list[str], args: list[Any]) -> asyncio.Future[int]:
        """The item's result, once its batch has run (awaitable)."""
        assert len(keys) == self.keys and len(args) == self.args
        loop = asyncio.get_running_loop()
        queues = self._queues.setdefault(loop, {})
        queue = queues.get(url)
        if queue is None:
            queue = queues[url] = _Queue(self.script, url)
        return queue.add(keys, args)


class _Queue:
    def __init__(self, script: Script, url: str) -> None:
        self.script, self.url = script, url
        self.pending: list[tuple[list[str], list[Any], asyncio.Future[int]]] = []
        self.task: asyncio.Task[None] | None = None

    def add(self, keys: list[str], args: list[Any]) -> asyncio.Future[int]:
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.pending.append((keys, args, done))
        if self.task is None:
            self.task = asyncio.ensure_future(self.run())
        return done

    async def run(self) -> None:
        batch: list[tuple[list[str], list[Any], asyncio.Future[int]]] = []
        try:
            while self.pending:
                aio.raise_if_cancelled()  # the batch before may have swallowed the cancel
                batch, self.pending = self.pending, []
                keys = [key for item_keys, _, _ in batch for key in item_keys]
                args = [arg for _, item_args, _ in batch for arg in item_args]
                try:
                    results = await self.script(for_loop(self.url), keys, args)
                except Exception as error:
                    for *_, done in batch:
                        if not done.done():  # its caller may have been cancelled
                            done.set_exception(error)
                    continue
                for (*_, done), result in zip(batch, results, strict=True):
                    if not done.done():
                        done.set_result(int(result))
        finally:
            self.task = None
            # Cancelled with the loop: nobody waits forever.
            for *_, done in [*batch, *self.pending]:
                if not done.done():
                    done.cancel()
