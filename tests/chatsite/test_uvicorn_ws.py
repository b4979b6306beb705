"""chatsite/uvicorn_ws.py on a real uvicorn server: frames sent in one turn leave in one
write, in order, and a close after them does not overtake them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn
import websockets

from chatsite.uvicorn_ws import CoalescingWebSocketProtocol

WRITES: list[bytes] = []


class CountingProtocol(CoalescingWebSocketProtocol):
    def connection_made(self, transport: Any) -> None:
        write = transport.write

        def counted(data: bytes) -> None:
            WRITES.append(data)
            write(data)

        transport.write = counted
        super().connection_made(transport)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "websocket"
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    message = await receive()
    count = int(message["text"])
    WRITES.clear()
    for i in range(count):  # one turn: no await yields to the loop in between
        await send({"type": "websocket.send", "text": f"frame {i}"})
    await asyncio.sleep(0.05)
    await send({"type": "websocket.send", "text": "later"})
    await send({"type": "websocket.close", "code": 4001})


@pytest.fixture
async def server() -> Any:
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        ws=CountingProtocol,
        ws_per_message_deflate=False,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"ws://127.0.0.1:{port}/"
    server.should_exit = True
    await task


async def test_frames_of_one_turn_leave_in_one_write_in_order(server: str) -> None:
    async with websockets.connect(server) as ws:
        await ws.send("5")
        received = [await ws.recv() for _ in range(6)]
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert received == [f"frame {i}" for i in range(5)] + ["later"]
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
    # The five frames in one write; "later" in the next, with the close frame behind it
    # (uvicorn writes the close at once: it takes the queued frame along, in order).
    assert len(WRITES) == 2
    assert WRITES[0].count(b"frame") == 5
    assert WRITES[1].index(b"later") < WRITES[1].index(b"\x88")  # 0x88: a close frame
