"""The Channels relay with the consumer clean-up hop moved off the single sync thread.

`AsyncConsumer.dispatch` runs `close_old_connections` through `sync_to_async` (thread
sensitive: one thread per process) before every event. The relay uses no database, so this
measures that hop alone; compare with bench/relay_asgi.py.
"""

from __future__ import annotations

import importlib

from bench.relay_asgi import application
from bench.variant_asgi import aclose_old_connections

importlib.import_module("channels.consumer").aclose_old_connections = aclose_old_connections

__all__ = ["application"]
