"""uvicorn's `websockets-sansio` protocol, writing the frames of one event-loop turn together.

uvicorn writes each `websocket.send` to its transport at once, and uvloop's transport makes
a `write(2)` system call for each: at B2's load (400 sockets, 1,000 msg/s) those calls, with
the loopback TCP work the kernel charges to them, were 22% of the server's GIL time
(docs/benchmarks.md, B11). A message gives its sockets two or three frames in one turn (the
`message` and its `unread`; an `ack` and the messages held behind it), so here a frame is
encoded into the connection at once, in order, and the connection's bytes are written once,
at the end of the turn (`loop.call_soon`). Every other write of the protocol (pings, pongs,
the close frame) takes the connection's bytes in the same order, so nothing overtakes a
frame already sent.

Served with `uvicorn --ws chatsite.uvicorn_ws:CoalescingWebSocketProtocol` (scripts/run.sh,
docs/deploy.md); the application does not depend on it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState


class CoalescingWebSocketProtocol(WebSocketsSansIOProtocol):  # type: ignore[misc]
    _flush: asyncio.Handle | None = None

    async def send(self, message: Any) -> None:
        if (
            message["type"] != "websocket.send"
            or not self.handshake_complete
            or self.close_sent
            or self.initial_response is not None
        ):
            await super().send(message)
            return
        await self.writable.wait()
        if self.disconnected:
            raise ClientDisconnected()
        try:
            if message.get("bytes") is not None:
                self.conn.send_binary(message["bytes"])
            elif message.get("text") is not None:
                self.conn.send_text(message["text"].encode())
        except InvalidState:
            raise ClientDisconnected() from None
        if self._flush is None:
            self._flush = self.loop.call_soon(self._write_queued)

    def _write_queued(self) -> None:
        self._flush = None
        if self.transport.is_closing():
            return  # the client is gone: what it did not get is in the database
        output = self.conn.data_to_send()
        if output:
            self.transport.write(b"".join(output))
