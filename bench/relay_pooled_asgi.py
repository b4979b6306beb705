"""The Channels relay with the consumer clean-up hop moved off the single sync thread.

`AsyncConsumer.dispatch` runs `close_old_connections` through `sync_to_async` (thread
sensitive: one thread per process) before every event. The relay uses no database, so this
measures that hop alone; compare with bench/relay_asgi.py.
"""

from __future__ import annotations

import importlib

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from bench.relay_asgi import application


async def aclose_old_connections() -> None:
    await sync_to_async(close_old_connections, thread_sensitive=False)()


importlib.import_module("channels.consumer").aclose_old_connections = aclose_old_connections

__all__ = ["application"]
