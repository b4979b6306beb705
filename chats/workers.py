"""The process-wide thread pool for the sockets' blocking work (database, Redis)."""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings


@functools.cache
def executor() -> ThreadPoolExecutor:
    """One pool for the process, sized by SOCKET_WORKERS (keep it <= DB_POOL_MAX)."""
    return ThreadPoolExecutor(max_workers=settings.SOCKET_WORKERS, thread_name_prefix="socket")
