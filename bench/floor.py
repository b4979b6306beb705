"""The floor: a bare WebSocket relay (no database, no auth) speaking the product's frames.

A socket joins the chats named in `?chats=1,2`; a `send` frame gets an `ack` and a `message`
frame to every socket in that chat (the sender's too), like the product's fan-out.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import defaultdict
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, broadcast, serve

rooms: dict[int, set[ServerConnection]] = defaultdict(set)
seqs: dict[int, int] = defaultdict(int)


def dumps(frame: dict[str, object]) -> str:
    return json.dumps(frame, separators=(",", ":"))


async def relay(ws: ServerConnection) -> None:
    query = parse_qs(urlsplit(ws.request.path).query if ws.request else "")
    chats = [int(c) for c in query.get("chats", [""])[0].split(",") if c.isdigit()]
    for chat in chats:
        rooms[chat].add(ws)
    try:
        await ws.send(dumps({"type": "hello", "chats": [{"id": c} for c in chats]}))
        async for text in ws:
            frame = json.loads(text)
            chat = frame.get("chat")
            if frame.get("type") != "send" or chat not in rooms:
                continue
            seqs[chat] += 1
            message = {
                "chat": chat,
                "seq": seqs[chat],
                "client_id": frame["client_id"],
                "body": frame["body"],
            }
            await ws.send(
                dumps({"type": "ack", "client_id": frame["client_id"], "message": message})
            )
            broadcast(rooms[chat], dumps({"type": "message", "message": message}))
    finally:
        for chat in chats:
            rooms[chat].discard(ws)


async def main(host: str, port: int) -> None:
    async with serve(relay, host, port, compression=None, backlog=1024):
        print(f"floor listening on {host}:{port}", flush=True)
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1", int(sys.argv[2])))
