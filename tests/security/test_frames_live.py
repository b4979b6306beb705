"""Oversized frames against a real daphne: past its 1 MiB limit the connection is dropped
(1006; 1009 if daphne ever sends the close frame) and the server keeps serving; a 1 MB frame
under the limit gets `too_long` and the socket keeps working. Nothing is stored. (Malformed
frames of every other kind, and the hypothesis fuzzing: tests/chats/test_consumer.py and
tests/chats/test_fuzz.py.)"""

import json

import pytest
import websockets

from tests.faults.infra import stored_messages

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


async def test_oversized_frames_close_1009_or_get_too_long_and_the_server_keeps_working(
    cluster_factory, database_url
):
    cluster = cluster_factory()
    seed = cluster.seed("alice", "bob")
    server = cluster.start()
    chat, session = seed["chat"], seed["users"]["alice"]["session"]
    client = await server.connect(session)
    try:
        frame = {"type": "send", "chat": chat, "client_id": "big", "body": ""}
        frame["body"] = "x" * (1_000_000 - len(json.dumps(frame)))
        raw = json.dumps(frame)
        assert len(raw.encode()) == 1_000_000
        await client.ws.send(raw)
        error, _ = await client.recv_until("error")
        assert error["code"] == "too_long" and error["detail"]
        ack = await client.send_message(chat, "still works")  # same socket
        assert ack["message"]["seq"] == 1

        with pytest.raises(websockets.ConnectionClosed):
            # The server may drop the link while the frame is still being written (the send
            # raises) or after (a later receive raises); frames already on their way come first.
            await client.ws.send("x" * (1024 * 1024 + 1))
            while True:
                await client.recv()
        # autobahn fails the connection by dropping it (failByDrop): the client sees 1006,
        # as for any network loss, rather than a 1009 close frame.
        assert client.ws.close_code in {1006, 1009}
    finally:
        await client.close()
    again = await server.connect(session)  # the server is fine
    try:
        assert (await again.send_message(chat, "and again"))["message"]["seq"] == 2
    finally:
        await again.close()
    assert [r[3] for r in stored_messages(database_url, chat)] == ["still works", "and again"]
