"""Readiness: does the database (and Redis, when configured) answer within a second?

Each check keeps at most one attempt in flight, shared by every probe that arrives while it
runs: a database that hangs holds one thread, not one per probe, and probes that wait past
the deadline report it failing at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import weakref
from typing import Any

from django.conf import settings
from django.db import connections

from chatsite.redis_clients import async_client, retry_policy

TIMEOUT = 1.0  # seconds a dependency has to answer


def _database_answers() -> None:
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()  # back to the pool (PostgreSQL) or closed (SQLite)


class _DatabaseCheck:
    """`SELECT 1` on the default database, in a thread of its own."""

    def __init__(self) -> None:
        self.executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="readyz")
        self.attempt: concurrent.futures.Future[None] | None = None

    async def __call__(self) -> bool:
        if self.attempt is None or self.attempt.done():
            self.attempt = self.executor.submit(_database_answers)
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self.attempt)), TIMEOUT)
        except Exception:
            return False
        return True


_database = _DatabaseCheck()
_redis_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
    weakref.WeakKeyDictionary()
)


async def _redis_answers() -> bool:
    loop = asyncio.get_running_loop()
    client = _redis_clients.get(loop)
    if client is None:
        client = _redis_clients[loop] = async_client(
            settings.REDIS_URL,
            socket_timeout=TIMEOUT,
            socket_connect_timeout=TIMEOUT,
            retry=retry_policy(),  # a connection left from before a Redis restart reconnects
        )
    try:
        return bool(await asyncio.wait_for(client.ping(), TIMEOUT))
    except Exception:
        return False


async def failing() -> list[str]:
    """The dependencies that did not answer within TIMEOUT: "database", "redis"."""
    checks = {"database": _database()}
    if settings.REDIS_URL:
        checks["redis"] = _redis_answers()
    results = await asyncio.gather(*checks.values())
    return [name for name, ok in zip(checks, results, strict=True) if not ok]
