"""How much a socket has queued for its client, so a client that does not read cannot make
the server buffer without limit (issue 21).

Neither server the docs offer pushes back on an ASGI app: daphne hands each frame to a
Twisted transport, uvicorn (`websockets-sansio`, `wsproto`) to an asyncio transport, and both
buffer whatever the client does not read. The queued bytes are read from that transport,
found through the ASGI `send` callable the server gave the application: daphne's is
`partial(Server.handle_reply, protocol)`, uvicorn's the protocol's bound `asgi_send`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.02
_warned = False


def probe(send: Any) -> Callable[[], int] | None:
    """A function returning the bytes queued on the transport behind an ASGI `send`, or None
    when the server is not one this module knows."""
    if isinstance(send, functools.partial) and send.args:
        protocol = send.args[0]  # daphne
    else:
        protocol = getattr(send, "__self__", None)  # uvicorn
    transport = getattr(protocol, "transport", None)
    if transport is None:
        return None
    if hasattr(transport, "get_write_buffer_size"):  # asyncio
        return transport.get_write_buffer_size  # type: ignore[no-any-return]
    if hasattr(transport, "_tempDataLen"):  # Twisted's FileDescriptor

        def twisted_queued() -> int:
            return len(transport.dataBuffer) - transport.offset + transport._tempDataLen

        return twisted_queued
    return None


class SendBuffer:
    """The socket's queued outgoing bytes, and waiting until they fall under a mark."""

    def __init__(self, send: Any, *, limit: int, drain_seconds: float) -> None:
        global _warned
        self.queued = probe(send)
        if self.queued is None and not _warned:
            _warned = True  # in-process test communicators have no transport
            logger.warning("no send buffer found behind %r: outgoing data is not capped", send)
        self.limit = limit
        self.drain_seconds = drain_seconds

    def size(self) -> int:
        return self.queued() if self.queued is not None else 0

    async def room(self, below: int | None = None) -> bool:
        """Wait until fewer than `below` bytes (default: the limit) are queued; False when the
        client has not read them within `drain_seconds` (too slow)."""
        mark = self.limit if below is None else below
        deadline = time.monotonic() + self.drain_seconds
        while self.size() >= mark:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL_SECONDS)
        return True
