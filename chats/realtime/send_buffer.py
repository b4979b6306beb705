"""How much a socket has queued for its client, so a client that does not read cannot make
the server buffer without limit (issue 21).

daphne does not push back on an ASGI app: it hands each frame to a Twisted transport that
buffers whatever the client does not read. uvicorn (`websockets-sansio`) writes to an asyncio
transport, and its `send` waits while that transport holds more than its high-water mark (64
KiB by default) until the client reads: a send that waits there never returns, so neither
could the 4408 close behind it (the client was only dropped by uvicorn's pings). So on an
asyncio transport the mark is raised above the cap (`HEADROOM` times it): the cap decides,
on both servers, and the close frame can always be queued; a client that still reads nothing
after it is dropped (`abandon`), as daphne does.

The transport is found through the ASGI `send` callable the server gave the application:
daphne's is `partial(Server.handle_reply, protocol)`, uvicorn's the protocol's bound `send`
(`asgi_send` in its other implementations).
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
# An asyncio transport pauses its server's sends past this many times the cap (a frame
# bigger than the cap could still pause them: then the close is not queued, the link dropped).
HEADROOM = 2
_warned = False


def transport_of(send: Any) -> Any:
    """The server's transport behind an ASGI `send`, or None when the server is not one this
    module knows."""
    if isinstance(send, functools.partial) and send.args:
        protocol = send.args[0]  # daphne
    else:
        protocol = getattr(send, "__self__", None)  # uvicorn
    return getattr(protocol, "transport", None)


def probe(send: Any) -> Callable[[], int] | None:
    """A function returning the bytes queued on the transport behind an ASGI `send`, or None
    when the server is not one this module knows."""
    transport = transport_of(send)
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
        transport = transport_of(send)
        # An asyncio transport (uvicorn's); daphne's Twisted one neither pauses nor aborts.
        self.flow_controlled = self.queued is not None and hasattr(
            transport, "set_write_buffer_limits"
        )
        if self.flow_controlled:
            transport.set_write_buffer_limits(high=limit * HEADROOM)
        self.transport = transport

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

    def abandon(self) -> None:
        """After the too-slow close: a client that has not read down to the close frame
        within `drain_seconds` more is dropped (daphne does this itself; an asyncio transport
        would hold the queued bytes until TCP gives up)."""
        if not self.flow_controlled:
            return
        transport = self.transport

        def drop() -> None:
            if transport.get_write_buffer_size():
                transport.abort()

        asyncio.get_running_loop().call_later(self.drain_seconds, drop)
