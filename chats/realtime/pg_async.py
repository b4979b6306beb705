"""PostgreSQL connections driven from the event loop, for the send path.

Why not Django's connections here: every ORM call from a socket is a hop to a worker thread
and back (a thread wake-up, a GIL hand-off, Django's transaction wrapping), and on the send
path those hops cost more CPU than the statements. psycopg's async driver runs the same SQL
on the event loop itself (docs/architecture.md, "The socket's hot path"). Everything else
keeps to the ORM on the socket workers; SQLite has no async driver and keeps the threads.

Each event loop keeps a few connections of its own (psycopg connections are bound to the
loop they were opened on), opened on first use with the `default` database's settings.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)


def enabled() -> bool:
    """Whether the socket's sends, hellos and logins go through this module (PostgreSQL).

    Reads the configured engine, not `connections["default"]`: that goes through asgiref's
    context-local storage, a twentieth of a connect storm's CPU when asked once per socket.
    """
    engine = connections.settings["default"]["ENGINE"]
    return bool(engine.endswith((".postgresql", ".postgis")))


def _conninfo() -> dict[str, Any]:
    db = connections["default"].settings_dict
    params: dict[str, Any] = {
        "dbname": db["NAME"],
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "application_name": "chatsite-send",
    }
    skip = {"pool", "isolation_level", "server_side_binding", "assume_role"}
    params.update({k: v for k, v in (db.get("OPTIONS") or {}).items() if k not in skip})
    return {k: v for k, v in params.items() if v is not None}


class _Slots:
    """A first-come, first-served semaphore whose waiters cost O(1) each.

    asyncio.Semaphore (Python 3.11) scans every waiter on each acquire while a slot is free,
    and a connect storm queues thousands of sockets on a pool of four connections: that
    scan was a twentieth of the storm's CPU."""

    def __init__(self, size: int) -> None:
        self.free = size
        self.waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def __aenter__(self) -> None:
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return
        turn = asyncio.get_running_loop().create_future()
        self.waiters.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release()  # handed a slot, but cancelled before taking it
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._release()

    def _release(self) -> None:
        while self.waiters:
            turn = self.waiters.popleft()
            if not turn.done():  # skip waiters that were cancelled
                turn.set_result(None)
                return
        self.free += 1


class _Pool:
    """At most `size` connections of one event loop; a broken one is dropped, not reused."""

    def __init__(self, size: int) -> None:
        self.idle: list[psycopg.AsyncConnection[Any]] = []
        self.slots = _Slots(size)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        async with self.slots:
            conn = self.idle.pop() if self.idle else None
            if conn is None or conn.closed:
                conn = await psycopg.AsyncConnection.connect(
                    **_conninfo(), autocommit=True, connect_timeout=10
                )
                _opened.add(conn)
            try:
                yield conn
            except BaseException:
                await _discard(conn)
                raise
            if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                self.idle.append(conn)
            else:
                await _discard(conn)


async def _discard(conn: psycopg.AsyncConnection[Any]) -> None:
    with contextlib.suppress(Exception):
        await conn.close()


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = weakref.WeakKeyDictionary()
_opened: weakref.WeakSet[psycopg.AsyncConnection[Any]] = weakref.WeakSet()


def connection() -> contextlib.AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
    """A connection of this event loop's pool, idle (no transaction open) when it is
    handed out; one the block broke or left in a transaction is closed afterwards."""
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = _Pool(settings.SEND_PATH_CONNECTIONS)
    return pool.connection()


def close_all() -> None:
    """Close every connection this process opened here, from any thread (tests, shutdown:
    a loop that has gone cannot close its own)."""
    for conn in list(_opened):
        with contextlib.suppress(Exception):
            conn.pgconn.finish()
    _opened.clear()
    _pools.clear()
