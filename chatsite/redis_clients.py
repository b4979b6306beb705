"""asyncio Redis clients, one per event loop, shared by every module of the process
(presence leases, rate limits): an asyncio connection belongs to the loop that opened it.

Every pool here, and the channel layer's (chatsite/layers.py), retries a command whose
connection died: after Redis restarts, each pooled connection is still open on this side
and the first command on it would fail ("Connection closed by server"), losing a doorbell
or a socket's connect, although Redis is back. The retry reconnects (a pub/sub connection
also resubscribes) and sends the command again, a few times within a fraction of a second.
Timeouts are not retried: a Redis that does not answer is failed over quickly instead.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

# A connect storm's calls queue for one of these (the default pool fails with "Too many
# connections" instead), up to POOL_WAIT seconds.
MAX_CONNECTIONS = 32
POOL_WAIT = 10
TIMEOUT = 2  # seconds for a connect or a reply


def retry_policy() -> Retry:
    """Reconnect and resend up to three times (40, 80, 160 ms apart) on a dead connection."""
    backoff = ExponentialBackoff(cap=0.25, base=0.02)
    return Retry(backoff, 3, supported_errors=(RedisConnectionError,))


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = (
    weakref.WeakKeyDictionary()
)


def for_loop(url: str) -> Any:
    """This event loop's client for `url` (a bounded pool that waits for a free connection)."""
    loop = asyncio.get_running_loop()
    by_url = _clients.setdefault(loop, {})
    client = by_url.get(url)
    if client is None:
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=POOL_WAIT,
            socket_timeout=TIMEOUT,
            socket_connect_timeout=TIMEOUT,
            retry=retry_policy(),
        )
        client = by_url[url] = redis.asyncio.Redis(connection_pool=pool)
    return client
