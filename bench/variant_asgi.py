"""A measured proposal, not the product: the same ASGI app with its database work on a pool.

Channels runs every `database_sync_to_async` call (and the `close_old_connections` it does
around each consumer event) on ONE thread per process, so every socket's sends, hellos,
delivered pointers and logins queue behind each other. This variant moves the consumer's
database calls, the socket login and that clean-up to asyncio's thread pool, so calls from
different sockets overlap (each socket still handles its own frames in order). It exists
only so `python -m bench` can measure the change before anyone makes it in chats/.
"""

from __future__ import annotations

import importlib
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from chatsite.asgi import application


def pooled(func: Any) -> Any:
    from channels.db import DatabaseSyncToAsync

    return DatabaseSyncToAsync(func, thread_sensitive=False)


async def aclose_old_connections() -> None:
    await sync_to_async(close_old_connections, thread_sensitive=False)()


def patch() -> None:
    """Imported after the app is built (Django is set up by then)."""
    auth = importlib.import_module("channels.auth")
    consumer = importlib.import_module("channels.consumer")
    consumers = importlib.import_module("chats.consumers")
    consumers.database_sync_to_async = pooled
    auth.get_user = pooled(auth.get_user.func)
    consumer.aclose_old_connections = aclose_old_connections


patch()

__all__ = ["application"]
