"""The process-wide thread pool for the sockets' blocking work (database, Redis)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from channels.db import database_sync_to_async
from django.conf import settings

T = TypeVar("T")


@functools.cache
def executor() -> ThreadPoolExecutor:
    """One pool for the process, sized by SOCKET_WORKERS (keep it <= DB_POOL_MAX)."""
    return ThreadPoolExecutor(max_workers=settings.SOCKET_WORKERS, thread_name_prefix="socket")


def db(func: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """Run `func` on the socket workers, each thread with its own pooled connection.

    Channels' default runs every socket's database work of a process on one shared thread;
    a socket's own frames and events are still handled one at a time, in order.
    """
    return database_sync_to_async(  # type: ignore[no-any-return]
        func, thread_sensitive=False, executor=executor()
    )
