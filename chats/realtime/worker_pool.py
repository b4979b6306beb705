"""The process-wide thread pool for the sockets' blocking work (database, Redis)."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.conf import settings
from django.db import close_old_connections

T = TypeVar("T")


@functools.cache
def executor() -> ThreadPoolExecutor:
    """One pool for the process, sized by SOCKET_WORKERS (keep it <= DB_POOL_MAX)."""
    return ThreadPoolExecutor(max_workers=settings.SOCKET_WORKERS, thread_name_prefix="socket")


def db(func: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """Run `func` on the socket workers, each thread with its own pooled connection,
    which goes back to the pool after the call (as Channels' database_sync_to_async does).

    Channels' default runs every socket's database work of a process on one shared thread;
    a socket's own frames and events are still handled one at a time, in order. This is a
    plain `run_in_executor` with the caller's context (asgiref's SyncToAsync machinery
    around each call was measured at a sixth of the CPU of a connect storm, for nothing a
    worker needs: no thread-sensitive code runs here).
    """

    @functools.wraps(func)
    async def call(*args: Any, **kwargs: Any) -> T:
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(
            executor(), functools.partial(context.run, _in_worker, func, args, kwargs)
        )

    return call


def _in_worker(func: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    close_old_connections()
    try:
        return func(*args, **kwargs)
    finally:
        close_old_connections()
